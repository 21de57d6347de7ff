using System.Diagnostics;

namespace StepDpo.Cli.Tests;

/// <summary>Runs the real `stepdpo` executable, as a user would.</summary>
public class SyntheticCommandTests
{
    private static (int Code, string Out, string Err) Stepdpo(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "stepdpo.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr);
    }

    [Fact]
    public void Writes_disjoint_train_and_test_files()
    {
        string dir = Directory.CreateTempSubdirectory("stepdpo-cli-synthetic-").FullName;
        try
        {
            var (code, stdout, stderr) = Stepdpo("synthetic", "--out", dir, "--train", "300", "--test", "50", "--seed", "3");
            Assert.True(code == 0, stderr);
            Assert.Contains("wrote 300 train problems", stdout);
            var train = File.ReadAllLines(Path.Combine(dir, "train.jsonl"));
            var test = File.ReadAllLines(Path.Combine(dir, "test.jsonl"));
            Assert.Equal((300, 50), (train.Length, test.Length));
            Assert.Empty(train.Intersect(test));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Bad_knob_is_one_line_error_with_nonzero_exit()
    {
        var (code, _, stderr) = Stepdpo("synthetic", "--out", Path.GetTempPath(), "--min-steps", "4", "--max-steps", "2");
        Assert.NotEqual(0, code);
        Assert.Equal("error: synthetic options: max_steps must be at least min_steps=4 (got 2)", stderr.Trim());
    }
}
