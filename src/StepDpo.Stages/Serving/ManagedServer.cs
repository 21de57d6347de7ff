using System.Diagnostics;
using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Stages.Serving;

/// <summary>A generation server run by a stage: started in its own process group with its output in a log file,
/// ready once GET /v1/models lists the served model, and stopped (SIGTERM, then SIGKILL after a grace period, to
/// the whole group) on dispose, which the stage reaches on success, failure and cancellation alike.
/// <see cref="Died"/> is cancelled when the server exits on its own, so requests in flight end at once.</summary>
public sealed class ManagedServer : IDisposable
{
    readonly Process process;
    readonly int? groupId;
    readonly StreamWriter log;
    readonly Lock logGate = new();
    readonly TimeSpan stopTimeout;
    readonly CancellationTokenSource died = new();
    readonly string pidFile;
    int stopping;
    bool logClosed;

    public ServerLaunch Launch { get; }
    public string LogPath { get; }
    public int Pid => process.Id;
    public Uri BaseUrl => Launch.BaseUrl;
    /// <summary>Cancelled when the server process exits while the stage still needs it.</summary>
    public CancellationToken Died => died.Token;

    ManagedServer(ServerLaunch launch, string logPath, TimeSpan stopTimeout)
    {
        Launch = launch;
        LogPath = logPath;
        this.stopTimeout = stopTimeout;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
        log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        pidFile = Path.ChangeExtension(logPath, ".pid");
        StopLeftover();
        var psi = new ProcessStartInfo(ProcessGroup.SetsidPath ?? launch.Command[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in ProcessGroup.SetsidPath is null ? launch.Command.Skip(1) : launch.Command) psi.ArgumentList.Add(a);
        foreach (var (k, v) in launch.Environment) psi.Environment[k] = v;
        process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.Exited += (_, _) => { if (Volatile.Read(ref stopping) == 0) died.Cancel(); };
        Write($"=== stepdpo {DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss}: starting {launch.Display()}");
        try { process.Start(); }
        catch (System.ComponentModel.Win32Exception e)
        {
            logClosed = true;
            log.Dispose();
            throw new StepDpoException($"serve.command: cannot start '{launch.Command[0]}' ({e.Message}); install it or point serve.command at it");
        }
        process.StandardInput.Close();   // the server never reads our terminal
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // setsid executes the server in place (a child we fork never leads a group, so setsid does not fork), so its
        // pid leads the new group, once the child has run setsid(); that may not have happened yet at this point.
        groupId = ProcessGroup.SetsidPath is not null ? process.Id : null;
        Write($"=== stepdpo: pid {process.Id}, process group {(groupId is null ? "none (stopped as a process tree)" : groupId.ToString())}, port {launch.Port}");
        if (groupId is not null && ProcessGroup.StartTicks(process.Id) is { } ticks)
            File.WriteAllText(pidFile, $"{process.Id} {ticks}\n");
    }

    /// <summary>A run killed outright (SIGKILL, out of memory) cannot stop its server, which would hold the GPUs the
    /// next server needs. Its pid file (pid and start time) survives in the resumed stage folder: when that process
    /// still runs, its group is stopped before a new server starts.</summary>
    void StopLeftover()
    {
        if (!File.Exists(pidFile)) return;
        var parts = File.ReadAllText(pidFile).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 2 && int.TryParse(parts[0], out int pid) && long.TryParse(parts[1], out long ticks)
            && ProcessGroup.StartTicks(pid) == ticks && ProcessGroup.IsAlive(pid))
        {
            Write($"=== stepdpo {DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss}: stopping server pid {pid}, left running by a run that was killed");
            ProcessGroup.StopGroup(pid, stopTimeout);
        }
        File.Delete(pidFile);
    }

    void Write(string? line)
    {
        if (line is null) return;
        // Output read on the pipe's thread can still arrive while the log closes.
        lock (logGate) if (!logClosed) log.WriteLine(line);
    }

    /// <summary>Starts the server and waits until it serves <see cref="ServerLaunch.ServedModel"/>. On a timeout, an
    /// early exit or cancellation the server is stopped before the exception leaves.</summary>
    public static async Task<ManagedServer> StartAsync(ServerLaunch launch, string logPath, TimeSpan startupTimeout, TimeSpan stopTimeout,
        CancellationToken ct)
    {
        var server = new ManagedServer(launch, logPath, stopTimeout);
        try
        {
            await server.WaitUntilReadyAsync(startupTimeout, ct).ConfigureAwait(false);
            server.Write($"=== stepdpo {DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss}: ready at {launch.BaseUrl}");
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var models = new Uri(BaseUrl, "v1/models");
        var clock = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (process.HasExited)
                throw new StepDpoException($"the {Launch.Command[0]} server exited with code {process.ExitCode} before it was ready" +
                    (process.ExitCode == 127 ? " (127: command not found; set serve.command)" : "") + $". {LogTail()}");
            try
            {
                using var response = await http.GetAsync(models, ct).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    var served = ServedModels(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
                    if (served.Contains(Launch.ServedModel)) return;
                    throw new StepDpoException($"{models} answers but serves [{string.Join(", ", served)}], not '{Launch.ServedModel}': " +
                        $"is serve.command a server that takes --served-model-name? {LogTail()}");
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested) { }
            if (clock.Elapsed > timeout)
                throw new StepDpoException($"the {Launch.Command[0]} server did not answer {models} within {timeout.TotalSeconds:0} s " +
                    $"(serve.startup_timeout_seconds). {LogTail()}");
            await Task.Delay(pause, ct).ConfigureAwait(false);
            pause = TimeSpan.FromMilliseconds(System.Math.Min(pause.TotalMilliseconds * 1.5, 2000));
        }
    }

    static IReadOnlyList<string> ServedModels(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("data").EnumerateArray()
                .Select(m => m.TryGetProperty("id", out var id) ? id.GetString() ?? "" : "").ToList();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { return []; }
    }

    /// <summary>Why the server is gone, for an error raised while the stage was using it.</summary>
    public string ExitDescription() => process.HasExited
        ? $"the {Launch.Command[0]} server (pid {Pid}) exited with code {process.ExitCode} during the run. {LogTail()}"
        : $"the {Launch.Command[0]} server (pid {Pid}) stopped answering. {LogTail()}";

    /// <summary>The last lines of the server log, which usually hold the reason (a traceback, an out-of-memory).</summary>
    public string LogTail(int lines = 20)
    {
        lock (logGate) if (!logClosed) log.Flush();
        string[] all;
        try
        {
            using var reader = new StreamReader(new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (IOException) { return $"(log {LogPath} unreadable)"; }
        var tail = all.Where(l => !l.StartsWith("=== stepdpo", StringComparison.Ordinal)).TakeLast(lines).ToList();
        return tail.Count == 0 ? $"The log {LogPath} is empty." : $"Last lines of {LogPath}:\n  " + string.Join("\n  ", tail);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref stopping, 1) == 1) return;
        try
        {
            ProcessGroup.Stop(process, groupId, stopTimeout);
            File.Delete(pidFile);
        }
        finally
        {
            Write($"=== stepdpo {DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss}: stopped" + (process.HasExited ? $" (exit code {process.ExitCode})" : ""));
            lock (logGate) { logClosed = true; log.Dispose(); }
            process.Dispose();
            died.Dispose();
        }
    }
}
