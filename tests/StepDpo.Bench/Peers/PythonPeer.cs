using System.Diagnostics;
using System.Text.Json.Nodes;

namespace StepDpo.Bench.Peers;

/// <summary>
/// The PyTorch eager side of the peer benchmark: Peers/qwen2_eager.py in a long-lived python process, one JSON line per
/// case, so both sides can be interleaved in one run without paying the interpreter's start each time.
/// </summary>
sealed class PythonPeer : IDisposable
{
    readonly Process process;
    public string TorchVersion { get; }
    public int Threads { get; }
    public string Attention { get; }

    PythonPeer(Process process, JsonObject hello)
    {
        this.process = process;
        TorchVersion = hello["torch"]!.GetValue<string>();
        Threads = hello["threads"]!.GetValue<int>();
        Attention = hello["attention"]!.GetValue<string>();
    }

    /// <summary>Why the PyTorch side cannot run (no interpreter, no torch), or null when it can.</summary>
    public static string? Unavailable(string python)
    {
        if (!File.Exists(python)) return $"{python} not found";
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import torch");
        using var p = Process.Start(psi)!;
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? null : $"{python} has no torch ({error.Trim().Split('\n')[^1]}); on Debian: apt-get install python3-torch";
    }

    public static PythonPeer Start(string python, string preset, int vocab, int threads)
    {
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false,
        };
        psi.ArgumentList.Add(Script);
        psi.Environment["OMP_WAIT_POLICY"] = "PASSIVE"; // as StepDpo's CpuRuntime sets it (the script sets malloc's options)
        var process = Process.Start(psi)!;
        process.StandardInput.WriteLine(new JsonObject { ["preset"] = preset, ["vocab"] = vocab, ["threads"] = threads }.ToJsonString());
        return new PythonPeer(process, ReadLine(process));
    }

    /// <summary>Runs one case; returns the wall-clock and CPU seconds of its timed repetitions.</summary>
    public Timing Run(JsonObject request)
    {
        process.StandardInput.WriteLine(request.ToJsonString());
        var answer = ReadLine(process);
        double[] Read(string key) => answer[key]!.AsArray().Select(s => s!.GetValue<double>()).ToArray();
        return new Timing(Read("wall"), Read("cpu"));
    }

    static JsonObject ReadLine(Process process)
    {
        string? line = process.StandardOutput.ReadLine();
        if (line is null) throw new InvalidOperationException($"the PyTorch peer ({Script}) exited with code " +
            (process.WaitForExit(5000) ? process.ExitCode.ToString() : "?") + "; its error is above");
        return JsonNode.Parse(line)!.AsObject();
    }

    /// <summary>The script, copied next to the benchmark's binaries by the project file.</summary>
    static string Script => Path.Combine(AppContext.BaseDirectory, "Peers", "qwen2_eager.py");

    public void Dispose()
    {
        try { process.StandardInput.Close(); if (!process.WaitForExit(10_000)) process.Kill(); }
        finally { process.Dispose(); }
    }
}
