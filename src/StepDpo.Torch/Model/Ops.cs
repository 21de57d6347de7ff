using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Torch.Model;

/// <summary>
/// Tensor additions with a Scalar that lives forever. `a + b` makes a temporary Scalar (alpha = 1) for every call;
/// its finalizer can free the native value while libtorch still reads it, and libtorch then rejects the garbage as
/// "out of range for bf16" (seen intermittently mid-training). A static Scalar cannot be finalized.
/// </summary>
public static class Ops
{
    static readonly Scalar One = 1.ToScalar();

    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);
}
