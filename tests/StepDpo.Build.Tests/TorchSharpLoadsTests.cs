using static TorchSharp.torch;

namespace StepDpo.Build.Tests;

/// <summary>Proves that the build patched TorchSharp's native glue: if it did not, the first torch call throws.</summary>
public class TorchSharpLoadsTests
{
    [Fact]
    public void Forward_and_backward_run_on_real_tensors()
    {
        var x = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        var w = tensor(new float[] { 0.5f, -1f, 2f, 0.25f }).reshape(2, 2).requires_grad_();
        var loss = x.matmul(w).pow(2).sum();
        loss.backward();
        // d/dw sum((xw)^2) = 2 x^T (x w)
        var expected = 2 * x.t().matmul(x.matmul(w.detach()));
        Assert.True(w.grad is not null);
        Assert.True(allclose(w.grad!, expected));
        // xw = [[4.5, -0.5], [9.5, -2]]
        Assert.Equal(4.5f * 4.5f + 0.5f * 0.5f + 9.5f * 9.5f + 2f * 2f, loss.item<float>(), 3);
    }

    [Fact]
    public void Native_glue_in_the_output_has_only_weak_glibcxx_3_4_32()
    {
        string glue = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(glue), $"missing {glue}");
        var reqs = ElfSymbolVersions.Requirements(File.ReadAllBytes(glue));
        var v = Assert.Single(reqs, r => r.Name == "GLIBCXX_3.4.32");
        Assert.True(v.Weak);
        Assert.Contains(reqs, r => r.Name == "GLIBC_2.2.5" && !r.Weak);
    }

    [Fact]
    public void Weaken_is_idempotent_and_touches_only_the_named_version()
    {
        string glue = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        byte[] bytes = File.ReadAllBytes(glue);
        var before = ElfSymbolVersions.Requirements(bytes);
        Assert.Equal(0, ElfSymbolVersions.Weaken(bytes, new[] { "GLIBCXX_3.4.32" }));
        Assert.Equal(before, ElfSymbolVersions.Requirements(bytes));
        Assert.Throws<InvalidDataException>(() => ElfSymbolVersions.Weaken(new byte[100], new[] { "X" }));
    }
}
