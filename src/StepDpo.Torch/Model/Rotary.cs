using static TorchSharp.torch;

namespace StepDpo.Torch.Model;

/// <summary>
/// Rotary position embedding. Frequencies θ_i = base^(-2i/d) (optionally rescaled: linear or llama3); for position p
/// the angle is p·θ_i, duplicated over both halves of the head ([θ, θ], the "rotate_half" layout of Hugging Face).
/// Angles are computed from the position ids of each forward in float32, so any position layout works
/// (left padding, packed sequences, a continuation restarting where a shared prefix ended).
/// </summary>
public sealed class Rotary : IDisposable
{
    /// <summary>θ_i, float32 [headDim/2].</summary>
    public Tensor InverseFrequencies { get; }

    /// <param name="device">where the frequencies live: the model's device. They are computed once on the host (a
    /// handful of numbers) and moved there.</param>
    public Rotary(ModelConfig c, Device? device)
    {
        using var scope = NewDisposeScope();
        var exponents = arange(0, c.HeadDim, 2, dtype: ScalarType.Int64, device: CPU).to(ScalarType.Float32) / c.HeadDim;
        var invFreq = 1.0f / pow(tensor((float)c.RopeTheta, device: CPU), exponents);
        if (c.RopeScaling is { Type: "linear" } linear) invFreq = invFreq / linear.Factor;
        if (c.RopeScaling is { Type: "llama3" } llama3) invFreq = Llama3(invFreq, llama3);
        InverseFrequencies = invFreq.to(ScalarType.Float32).to(device ?? CPU).DetachFromDisposeScope();
    }

    /// <summary>Llama 3.1 scaling: long wavelengths (low frequencies) are divided by the factor, short ones kept,
    /// and the band between is interpolated smoothly.</summary>
    static Tensor Llama3(Tensor invFreq, RopeScaling s)
    {
        double lowFreqWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highFreqWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        var wavelen = 2 * Math.PI / invFreq;
        var scaled = where(wavelen > lowFreqWavelen, invFreq / s.Factor, invFreq);
        var smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
        var smoothed = (1 - smooth) * scaled / s.Factor + smooth * scaled;
        var isMedium = (wavelen < highFreqWavelen).logical_not().logical_and((wavelen > lowFreqWavelen).logical_not());
        return where(isMedium, smoothed, scaled);
    }

    /// <summary>cos and sin of the angles for <paramref name="positionIds"/> [B, T], shaped [B, 1, T, headDim] (one
    /// head axis to broadcast over) and cast to <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var angles = positionIds.to(ScalarType.Float32).unsqueeze(-1) * InverseFrequencies.to(positionIds.device);
        var both = cat([angles, angles], -1).unsqueeze(1);
        return (scope.MoveToOuter(both.cos().to(dtype)), scope.MoveToOuter(both.sin().to(dtype)));
    }

    /// <summary>x·cos + rotate_half(x)·sin with rotate_half([x1, x2]) = [-x2, x1].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = cat([x2.neg(), x1], -1);
        return scope.MoveToOuter(Ops.Add(x * cos, rotated * sin));
    }

    public void Dispose() => InverseFrequencies.Dispose();
}
