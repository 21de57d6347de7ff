using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>
/// The training view of <see cref="CausalLM"/>: the same forward, but with <see cref="GradientCheckpointing"/> each
/// decoder layer runs under <see cref="ActivationCheckpoint"/>. The rotary tables and the mask go to the checkpoint as
/// explicit constants, because the model's own wrapper hook hands over a closure whose captured cos/sin are disposed
/// with the forward's dispose scope, before backward recomputes the layer.
/// </summary>
public sealed class CheckpointedCausalLM(CausalLM model) : ICausalLM, IGradientCheckpointable, IDisposable
{
    readonly Rotary rotary = new(model.Config, model.Device);

    public CausalLM Model => model;
    public TorchSharp.torch.nn.Module Module => model;
    public int VocabSize => model.VocabSize;
    public Device Device => model.Device;
    public bool GradientCheckpointing { get; set; }

    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null)
    {
        if (!Recomputes) return model.Forward(inputIds, positionIds, attentionMask);
        using var scope = NewDisposeScope();
        return scope.MoveToOuter(model.Logits(HiddenStates(inputIds, positionIds, attentionMask)));
    }

    public Tensor ForwardRows(Tensor inputIds, Tensor? positionIds, Tensor? attentionMask, Tensor rows)
    {
        if (!Recomputes) return model.ForwardRows(inputIds, positionIds, attentionMask, rows);
        using var scope = NewDisposeScope();
        var hidden = HiddenStates(inputIds, positionIds, attentionMask);
        return scope.MoveToOuter(model.Logits(hidden.reshape(-1, hidden.shape[^1])[rows]));
    }

    bool Recomputes => GradientCheckpointing && model.training && is_grad_enabled();

    /// <summary>Final-norm hidden states with every decoder layer under an activation checkpoint.</summary>
    Tensor HiddenStates(Tensor inputIds, Tensor? positionIds, Tensor? attentionMask)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1];
        positionIds ??= arange(t, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0).expand(b, t);
        // As CausalLM.Forward: every query sees itself, so padding rows never softmax over nothing.
        var mask = Attention.Prepare(CausalLM.WithSelf(attentionMask, t), t, t, model.Config, model.DType, inputIds.device);
        var (cos, sin) = rotary.CosSin(positionIds, model.DType);
        var hidden = model.model.embed_tokens.forward(inputIds);
        // With a frozen embedding (LoRA) its output needs no gradient, but the checkpoint keeps only inputs that do:
        // asking for one keeps layer 0 checkpointed like the others, for one [B, T, hidden] gradient.
        if (!hidden.requires_grad) hidden.requires_grad_();
        foreach (var layer in model.model.Layers)
            hidden = mask is null
                ? ActivationCheckpoint.Apply((h, c) => layer.Forward(h, c[0], c[1], null, null), hidden, cos, sin)
                : ActivationCheckpoint.Apply((h, c) => layer.Forward(h, c[0], c[1], c[2], null), hidden, cos, sin, mask);
        return scope.MoveToOuter(model.model.norm.forward(hidden));
    }

    public void Dispose() => rotary.Dispose();
}
