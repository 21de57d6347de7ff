using Spectre.Console.Cli;
using StepDpo.Cli.Commands;
using StepDpo.Text;

namespace StepDpo.Cli.Tests;

public class TokenizeCommandTests
{
    static int Run(params string[] args)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            Registry.Register(config);
            config.SetExceptionHandler((ex, _) => ErrorReport.Print(ex));
        });
        return app.Run(args);
    }

    static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "stepdpo-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact]
    public void Writes_one_ids_line_per_text_line()
    {
        var dir = TempDir();
        ByteTokenizer.WriteTokenizerJson(dir);
        var input = Path.Combine(dir, "in.jsonl");
        var output = Path.Combine(dir, "out.jsonl");
        File.WriteAllText(input, "{\"text\": \"ab\"}\n{\"text\": \"\"}\n{\"text\": \"é<|im_end|>\", \"other\": 1}\n");
        Assert.Equal(0, Run("tokenize", "--tokenizer", Path.Combine(dir, "tokenizer.json"), "--input", input, "--output", output));
        Assert.Equal(["{\"ids\":[97,98]}", "{\"ids\":[]}", "{\"ids\":[195,169,258]}"], File.ReadAllLines(output));
    }

    [Theory]
    [InlineData("{\"text\": \"ok\"}\n{\"text\": 3}\n", "in.jsonl:2: text")]
    [InlineData("{\"text\": \"ok\"}\n\n", "in.jsonl:2: not valid JSON")]
    [InlineData("{\"text\": \"ok\"}\n{\"text\": \"ok\"\n", "in.jsonl:2: not valid JSON")]
    public void Bad_lines_fail_with_file_and_line_and_leave_no_output(string content, string expected)
    {
        var dir = TempDir();
        ByteTokenizer.WriteTokenizerJson(dir);
        var input = Path.Combine(dir, "in.jsonl");
        var output = Path.Combine(dir, "out.jsonl");
        File.WriteAllText(input, content);
        var error = new StringWriter();
        var original = Console.Error;
        int code;
        lock (typeof(Console))
        {
            Console.SetError(error);
            try { code = Run("tokenize", "--tokenizer", dir, "--input", input, "--output", output); }
            finally { Console.SetError(original); }
        }
        Assert.Equal(2, code);
        Assert.Contains(expected, error.ToString());
        Assert.False(File.Exists(output));
    }
}
