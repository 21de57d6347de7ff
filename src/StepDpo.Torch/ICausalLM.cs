using static TorchSharp.torch;

namespace StepDpo.Torch;

/// <summary>
/// The contract between the model (Model/ folder) and its users (generation, training, scoring).
/// A decoder-only language model: token ids in, next-token logits out.
/// </summary>
public interface ICausalLM
{
    /// <summary>The underlying TorchSharp module: parameters(), train(), eval(), to(device/dtype).</summary>
    nn.Module Module { get; }

    int VocabSize { get; }

    /// <summary>Where the weights live: trainers and the reference pass create every batch, mask and loss input there.</summary>
    Device Device => Module.parameters().First().device;

    /// <summary>
    /// Logits [B, T, V] (float32) for <paramref name="inputIds"/> [B, T] (int64).
    /// <paramref name="positionIds"/> [B, T] (int64) default to 0..T-1 per row; they drive the rotary embedding, so a
    /// sequence that continues a shared prefix can restart its positions where the prefix ended.
    /// <paramref name="attentionMask"/> is a boolean [B, 1, T, T] tensor, true where query t may attend to key s;
    /// null means plain causal attention. Together they express padding, packing and shared-prefix layouts.
    /// </summary>
    Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null);

    /// <summary>
    /// Logits [N, V] (float32) at the positions <paramref name="rows"/> (int64 [N], flat indices b·T + t) only, with the
    /// arguments of <see cref="Forward"/>: what a loss over some of the tokens needs. A model that can should apply its
    /// LM head to those rows alone (a Step-DPO batch scores a step after a long prefix: most positions predict nothing
    /// that is scored); this default computes every row and picks.
    /// </summary>
    Tensor ForwardRows(Tensor inputIds, Tensor? positionIds, Tensor? attentionMask, Tensor rows)
    {
        using var logits = Forward(inputIds, positionIds, attentionMask);
        using var flat = logits.reshape(-1, logits.shape[^1]);
        return flat[rows]; // indexing rather than index_select: libtorch's meta device carries it (placement tests)
    }
}
