using static TorchSharp.torch;

namespace StepDpo.Torch.Generation;

/// <summary>
/// The tensors decoding feeds the model, built on the model's device: left-padded prompt ids and which positions are
/// real, positions that count real tokens only, and the attention masks of the prefill and of each decode step.
/// </summary>
public static class DecodeInputs
{
    /// <summary>Rows right-aligned in <paramref name="length"/> slots: ids [B, T] (int64, 0 where padded) and valid [B, T] (bool).</summary>
    public static (Tensor Ids, Tensor Valid) LeftPad(IReadOnlyList<int[]> rows, int length, Device device)
    {
        var ids = new long[rows.Count * length];
        var valid = new bool[rows.Count * length];
        for (int r = 0; r < rows.Count; r++)
        {
            int offset = r * length + length - rows[r].Length;
            for (int i = 0; i < rows[r].Length; i++) { ids[offset + i] = rows[r][i]; valid[offset + i] = true; }
        }
        return (tensor(ids, [rows.Count, length], device: device), tensor(valid, [rows.Count, length], device: device));
    }

    /// <summary>Position of each slot among its row's real tokens (padding gets 0; it is masked anyway).</summary>
    public static Tensor Positions(Tensor valid)
    {
        using var counts = valid.to(ScalarType.Int64).cumsum(-1);
        using var shifted = counts - 1;
        return shifted.clamp_min(0);
    }

    /// <summary>bool [B, 1, T, T]: causal over real tokens; a padding query sees itself only, so no softmax row is empty.</summary>
    public static Tensor PrefillMask(Tensor valid)
    {
        using var scope = NewDisposeScope();
        long t = valid.shape[1];
        var causal = ones(t, t, dtype: ScalarType.Bool, device: valid.device).tril();
        var self = eye(t, dtype: ScalarType.Bool, device: valid.device);
        return scope.MoveToOuter(((causal.unsqueeze(0) & valid.unsqueeze(1)) | self).unsqueeze(1));
    }

    /// <summary>bool [B, 1, T, P + T] for T new slots after P cached ones (a shared prefix prefilled before): a new token
    /// sees every valid cached slot and, causally, the valid new ones; a padding query sees itself too, so no softmax
    /// row is empty. With P = 0 this is <see cref="PrefillMask(Tensor)"/>.</summary>
    public static Tensor PrefillMask(Tensor cachedValid, Tensor valid)
    {
        using var scope = NewDisposeScope();
        long b = valid.shape[0], t = valid.shape[1], p = cachedValid.shape[1];
        var fresh = PrefillMask(valid);
        if (p == 0) return scope.MoveToOuter(fresh);
        return scope.MoveToOuter(cat([cachedValid.unsqueeze(1).unsqueeze(1).expand(b, 1, t, p), fresh], -1));
    }

    /// <summary>Key validity after one more decoded token per row: [A, S] → [A, S + 1].</summary>
    public static Tensor Extend(Tensor keyValid)
    {
        using var next = ones(keyValid.shape[0], 1, dtype: ScalarType.Bool, device: keyValid.device);
        return cat([keyValid, next], 1);
    }

    /// <summary>bool [A, 1, 1, S]: a decode step's single query sees every valid key.</summary>
    public static Tensor StepMask(Tensor keyValid) => keyValid.unsqueeze(1).unsqueeze(1);
}
