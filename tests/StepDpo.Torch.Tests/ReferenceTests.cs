using StepDpo.Torch.Checkpoints;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests;

/// <summary>Our forward against the independent float64 PyTorch implementation (Fixtures/make_reference.py) on random
/// Qwen2 (BF16 on disk, tied, biased) and Llama (F16 on disk, untied, llama3 rope, head_dim ≠ hidden/heads) checkpoints.</summary>
public class ReferenceTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var m in Fixtures.Models) foreach (var l in Fixtures.Layouts) data.Add(m, l);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Float32_logits_match_reference(string model, string layout)
    {
        using var lm = Checkpoint.Load(Fixtures.Folder(model));
        using var ids = Fixtures.Expected(model, $"{layout}.input_ids");
        using var positions = Fixtures.Expected(model, $"{layout}.position_ids");
        using var mask = Fixtures.Expected(model, $"{layout}.mask");
        using var expected = Fixtures.Expected(model, $"{layout}.logits");
        using var boolMask = mask.to(ScalarType.Bool).unsqueeze(1);
        using var noGrad = no_grad();
        using var logits = lm.Forward(ids, positions, boolMask);
        Assert.Equal(expected.shape, logits.shape);
        Assert.Equal(ScalarType.Float32, logits.dtype);
        double diff = Fixtures.MaxAbsDiff(logits, expected);
        Assert.True(diff < 1e-4, $"{model}/{layout}: max |logit diff| {diff:E2}");
    }

    [Theory, MemberData(nameof(Cases))]
    public void Bfloat16_logits_stay_close_to_reference(string model, string layout)
    {
        using var lm = Checkpoint.Load(Fixtures.Folder(model), ScalarType.BFloat16);
        using var ids = Fixtures.Expected(model, $"{layout}.input_ids");
        using var positions = Fixtures.Expected(model, $"{layout}.position_ids");
        using var mask = Fixtures.Expected(model, $"{layout}.mask");
        using var expected = Fixtures.Expected(model, $"{layout}.logits");
        using var boolMask = mask.to(ScalarType.Bool).unsqueeze(1);
        using var noGrad = no_grad();
        using var logits = lm.Forward(ids, positions, boolMask);
        double diff = Fixtures.MaxAbsDiff(logits, expected);
        // bf16 keeps 8 bits of mantissa: logits of magnitude ~3 through two layers drift by a few 1e-2, not more.
        Assert.True(diff < 0.1, $"{model}/{layout}: bf16 max |logit diff| {diff:E2}");
    }

    [Theory, MemberData(nameof(Models))]
    public void Causal_layout_without_mask_equals_explicit_causal_mask(string model)
    {
        // The null-mask path (SDPA is_causal with repeated K/V) and the masked path (grouped query heads) must agree.
        using var lm = Checkpoint.Load(Fixtures.Folder(model));
        using var ids = Fixtures.Expected(model, "causal.input_ids");
        using var expected = Fixtures.Expected(model, "causal.logits");
        using var noGrad = no_grad();
        using var logits = lm.Forward(ids);
        Assert.True(Fixtures.MaxAbsDiff(logits, expected) < 1e-4);
    }

    public static TheoryData<string> Models() => new(Fixtures.Models);

    [Fact]
    public void Module_to_converts_the_weights_the_forward_uses()
    {
        // Users (the trainer) call Module.to(dtype): the fields the forward reads must follow.
        using var lm = Checkpoint.Load(Fixtures.Folder("qwen2-micro"));
        using var ids = Fixtures.Expected("qwen2-micro", "causal.input_ids");
        using var expected = Fixtures.Expected("qwen2-micro", "causal.logits");
        TorchSharp.ModuleExtensionMethods.to(lm.Module, ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, lm.model.layers.parameters().First().dtype);
        Assert.Equal(ScalarType.BFloat16, lm.model.embed_tokens.weight.dtype);
        Assert.Equal(ScalarType.BFloat16, lm.DType);
        using var noGrad = no_grad();
        using var logits = lm.Forward(ids);
        Assert.InRange(Fixtures.MaxAbsDiff(logits, expected), 1e-4, 0.1); // bf16: close, but not fp32-exact
        Assert.Equal(lm.parameters().Count(), lm.named_parameters().Count());
    }
}
