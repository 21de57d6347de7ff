using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Torch.Model;

/// <summary>
/// Tensor arithmetic with Scalars owned by the call. Seen here: intermittent "toBFloat16 / toFloat / INTERNAL ASSERT at
/// Scalar.h" failures mid-training, from Scalars whose native value was freed while still in use (TorchSharp's dispose
/// scopes also dispose Scalars created inside them, so a Scalar kept in a field or a static dies with the first scope that
/// saw it; temporaries outside any scope are left to the finalizer). A Scalar created and disposed around each call is safe.
/// </summary>
public static class Ops
{
    public static Tensor Add(Tensor a, Tensor b)
    {
        using var one = 1.ToScalar();
        return a.add(b, one);
    }

    public static Tensor Add(Tensor a, double value)
    {
        using var s = value.ToScalar();
        using var one = 1.ToScalar();
        return a.add(s, one);
    }

    public static Tensor Pow(Tensor a, double exponent)
    {
        using var s = exponent.ToScalar();
        return a.pow(s);
    }
}
