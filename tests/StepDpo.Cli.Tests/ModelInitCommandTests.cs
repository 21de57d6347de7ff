using Spectre.Console.Cli;
using StepDpo.Cli.Commands;
using StepDpo.Torch.Checkpoints;

namespace StepDpo.Cli.Tests;

/// <summary>`stepdpo model init` with a tokenizer.json path (the byte tokenizer needs StepDpo.Text's ByteTokenizer).</summary>
public class ModelInitCommandTests
{
    static int Run(params string[] args)
    {
        var app = new CommandApp();
        app.Configure(c => { Registry.Register(c); c.PropagateExceptions(); });
        return app.Run(ArgumentAliases.Normalize(args));
    }

    /// <summary>A BPE tokenizer.json with 6 vocabulary tokens and 2 added tokens (ids 6 and 9: size is max id + 1).</summary>
    static string WriteTokenizer(string dir)
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, """
            {"version": "1.0", "added_tokens": [
               {"id": 6, "content": "<|endoftext|>", "special": true},
               {"id": 9, "content": "<|im_end|>", "special": true}],
             "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5}, "merges": ["a b", "b c", "ab c"]}}
            """);
        return path;
    }

    static string Temp() => Path.Combine(Path.GetTempPath(), "stepdpo-cli-tests", Guid.NewGuid().ToString("N"));

    [Fact]
    public void Writes_a_loadable_deterministic_checkpoint_with_the_tokenizers_vocabulary()
    {
        var root = Temp();
        var tokenizer = WriteTokenizer(Path.Combine(root, "tok"));
        string first = Path.Combine(root, "a"), second = Path.Combine(root, "b");
        Assert.Equal(0, Run("model", "init", "--arch", "llama", "--preset", "tiny", "--tokenizer", tokenizer, "--out", first, "--seed", "3"));
        Assert.Equal(0, Run("model", "init", "--arch", "llama", "--preset", "tiny", "--tokenizer", tokenizer, "--out", second, "--seed", "3"));
        using var model = Checkpoint.Load(first);
        Assert.Equal(10, model.VocabSize);
        Assert.Equal([6, 9], model.Config.EosTokenIds);
        Assert.Equal(64, model.Config.HiddenSize);
        Assert.True(File.Exists(Path.Combine(first, "tokenizer.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(first, "model.safetensors")), File.ReadAllBytes(Path.Combine(second, "model.safetensors")));
    }

    [Fact]
    public void Unknown_preset_is_a_clear_error()
    {
        var root = Temp();
        var tokenizer = WriteTokenizer(Path.Combine(root, "tok"));
        var e = Assert.Throws<StepDpo.Core.StepDpoException>(() =>
            Run("model", "init", "--arch", "qwen2", "--preset", "huge", "--tokenizer", tokenizer, "--out", Path.Combine(root, "m")));
        Assert.Contains("preset 'huge' is not known", e.Message);
        Assert.False(Directory.Exists(Path.Combine(root, "m")));
    }

    [Fact]
    public void One_letter_long_option_is_accepted_for_the_contract()
    {
        Assert.Equal(["generate", "-n", "4", "-n=2", "--nope"], ArgumentAliases.Normalize(["generate", "--n", "4", "--n=2", "--nope"]));
    }
}
