using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Torch.Model;

/// <summary>
/// Tensor arithmetic with Scalars that live as long as they are used. `a + b` makes a temporary Scalar (alpha = 1) for every call;
/// its finalizer can free the native value while libtorch still reads it, and libtorch then rejects the garbage as
/// "out of range for bf16" (seen intermittently mid-training). A static Scalar cannot be finalized.
/// </summary>
public static class Ops
{
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar Two = 2.ToScalar();

    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a + s with a Scalar the caller keeps alive (a field or a `using` local).</summary>
    public static Tensor Add(Tensor a, Scalar s) => a.add(s, One);
}
