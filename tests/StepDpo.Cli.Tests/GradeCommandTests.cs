using System.Text.Json.Nodes;
using Spectre.Console.Cli;
using StepDpo.Cli.Commands;

namespace StepDpo.Cli.Tests;

/// <summary>`stepdpo grade` and `stepdpo data stats` through the real command line parser.</summary>
public class GradeCommandTests
{
    private static int Run(params string[] args)
    {
        var app = new CommandApp();
        app.Configure(c => { Registry.Register(c); c.SetExceptionHandler((ex, _) => ErrorReport.Print(ex)); });
        return app.Run(args);
    }

    [Fact]
    public void Grade_follows_the_contract()
    {
        var dir = Directory.CreateTempSubdirectory("stepdpo-cli-").FullName;
        try
        {
            var input = Path.Combine(dir, "in.jsonl");
            var output = Path.Combine(dir, "out.jsonl");
            File.WriteAllText(input, """
                {"prediction": "We find $\\boxed{1 \\pm \\sqrt{19}}$.", "answer": "1+\\sqrt{19}, 1-\\sqrt{19}"}
                {"prediction": "Final Answer: The final answer is $25\\%$. I hope it is correct.", "answer": "0.25"}
                """);
            Assert.Equal(0, Run("grade", "--input", input, "--output", output));
            var rows = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToList();
            Assert.True(rows[0]["correct"]!.GetValue<bool>());
            Assert.Equal("25\\%", rows[1]["extracted"]!.GetValue<string>());
            Assert.False(rows[1]["correct"]!.GetValue<bool>());

            Assert.Equal(0, Run("grade", "--input", input, "--output", output, "--grader", "hendrycks"));
            Assert.False(JsonNode.Parse(File.ReadAllLines(output)[0])!["correct"]!.GetValue<bool>());

            Assert.NotEqual(0, Run("grade", "--input", input, "--output", output, "--grader", "sympy"));
            Assert.NotEqual(0, Run("grade", "--input", Path.Combine(dir, "missing.jsonl"), "--output", output));
            Assert.NotEqual(0, Run("grade", "--input", input));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Data_stats_reads_a_file()
    {
        var dir = Directory.CreateTempSubdirectory("stepdpo-cli-").FullName;
        try
        {
            var file = Path.Combine(dir, "g.jsonl");
            File.WriteAllText(file, "{\"question\": \"1+1?\", \"answer\": \"so #### 2\"}\n");
            Assert.Equal(0, Run("data", "stats", "gsm8k", "--path", file));
            Assert.Equal(0, Run("data", "show", "gsm8k", "--path", file));
            Assert.NotEqual(0, Run("data", "stats", "nonsense", "--path", file));
        }
        finally { Directory.Delete(dir, true); }
    }
}
