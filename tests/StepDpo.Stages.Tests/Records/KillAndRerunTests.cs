using System.Diagnostics;
using StepDpo.Stages.Tests.Loopback;

namespace StepDpo.Stages.Tests.Records;

/// <summary>The sampling loop runs in a real child process that is killed (SIGKILL) mid-run, then run again.</summary>
public class KillAndRerunTests
{
    const int Problems = 25, N = 4, HeldAfter = 30;

    static Process StartChild(Uri baseUrl, string storePath)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "exec", typeof(Program).Assembly.Location, "sample-child", baseUrl.ToString(), storePath, $"{Problems}", $"{N}" })
            info.ArgumentList.Add(arg);
        return Process.Start(info)!;
    }

    static int CompleteLines(string path)
    {
        if (!File.Exists(path)) return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var count = 0;
        for (var b = stream.ReadByte(); b >= 0; b = stream.ReadByte()) if (b == '\n') count++;
        return count;
    }

    [Fact]
    public async Task A_killed_sampling_process_resumes_without_losing_or_duplicating_a_record()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        // After HeldAfter answers the server holds every request, so the kill surely lands mid-run with requests
        // in flight, however slow this machine is; the rerun is served normally.
        var hold = true;
        var hang = new Fault(FaultKind.Slow, Delay: TimeSpan.FromSeconds(60));
        var slowish = new Fault(FaultKind.Slow, Delay: TimeSpan.FromMilliseconds(10));
        await using var server = await LoopbackCompletionsServer.StartAsync(call => Volatile.Read(ref hold) && call > HeldAfter ? hang : slowish);

        using (var child = StartChild(server.BaseUrl, path))
        {
            var deadline = Stopwatch.StartNew();
            // Both held requests must have reached the server before the kill: the 32nd can still be on its way
            // when the 30th line lands.
            while ((CompleteLines(path) < HeldAfter || server.Calls < HeldAfter + 2) && !child.HasExited && deadline.Elapsed < TimeSpan.FromSeconds(60))
                await Task.Delay(20);
            if (child.HasExited) Assert.Fail($"child ended early: {await child.StandardError.ReadToEndAsync()}");
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }
        hold = false;
        var afterKill = CompleteLines(path);
        Assert.Equal(HeldAfter, afterKill);
        // The kill lands between whole-line writes almost always; make the torn case certain.
        File.AppendAllText(path, """{"key":"p024#3","pro""");
        // At least the two held requests were in flight when the process died.
        Assert.True(server.Calls >= HeldAfter + 2);

        // Answers of the interrupted run may still be on their way out of the server; let them land first.
        await server.QuiesceAsync();
        var servedBefore = server.ChoicesServed;
        using (var child = StartChild(server.BaseUrl, path))
        {
            await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(child.ExitCode == 0, await child.StandardError.ReadToEndAsync());
        }

        SamplingFixture.AssertComplete(path, Problems, N);
        Assert.Equal(Problems * N - afterKill, server.ChoicesServed - servedBefore);
    }
}
