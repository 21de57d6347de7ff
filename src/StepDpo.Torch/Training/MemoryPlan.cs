using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>The tensors a micro-batch forwards: <see cref="Rows"/> packed rows of <see cref="Width"/> tokens (padding
/// included), of which <see cref="ScoredTokens"/> go through log_softmax. <see cref="KeepsLogits"/>: the SFT step holds
/// the fp32 logits and the scored rows until its backward has run (the DPO step lets them go after the forward).</summary>
public sealed record MicroBatchShape(int Rows, int Width, long ScoredTokens, bool KeepsLogits = false)
{
    public long Tokens => (long)Rows * Width;

    /// <summary>The worst case of <paramref name="pairs"/> Step-DPO pairs at the manifest's limits, where prompt + chosen and
    /// prompt + rejected are each at most <paramref name="maxLength"/> tokens: with a shared prefix one row
    /// [prompt | chosen | rejected] per pair, at most 2 x max_length; as two sequences, two rows of max_length. Scored:
    /// both completions, at most 2 x (max_length - 1).</summary>
    public static MicroBatchShape StepDpo(int pairs, int maxLength, bool sharedPrefix) => sharedPrefix
        ? new MicroBatchShape(pairs, 2 * maxLength, 2L * pairs * maxLength)
        : new MicroBatchShape(2 * pairs, maxLength, 2L * pairs * maxLength);

    /// <summary>SFT: one row of max_length per example (packing only ever shortens this), every token scored.</summary>
    public static MicroBatchShape Sft(int examples, int maxLength) =>
        new(examples, maxLength, (long)examples * maxLength, KeepsLogits: true);
}

/// <summary>One stage's peak memory on one device, in bytes: weights, gradients and optimizer states, and what the peak
/// moment adds to them (activations and temporaries).</summary>
public sealed record MemoryEstimate(string Stage, long Weights, long Gradients, long OptimizerStates, long Activations)
{
    public long Total => Weights + Gradients + OptimizerStates + Activations;
}

/// <summary>
/// How much memory the TorchSharp engine needs for a model and a run, from the model's shape alone: the formulas follow
/// the tensors the code keeps (Model/, Training/), and the `memory` benchmark checks them against the peak resident memory
/// of real training steps (within 9% on three model sizes, full, checkpointed and LoRA). The runtime itself (.NET and
/// libtorch, ~140 MB on the CPU; the CUDA context on a GPU) is not counted. Bytes per parameter, with e = 2 (bf16) or 4
/// (fp32) the weight dtype:
/// weights e; gradients e (trainable parameters only); AdamW (Training/AdamW.cs) 4 + 4 for the two fp32 moments plus 4 for
/// the fp32 master copy when e = 2. So full bf16 fine-tuning costs 2 + 2 + 12 = 16 bytes per parameter; LoRA freezes
/// the base (2 bytes per parameter) and pays the 16 only for its adapters.
/// No reference model is held: the train stage computes the reference log-probs once, caches them and trains against the
/// cache (Training/ReferenceLogProbs.cs).
/// </summary>
public sealed class MemoryPlan(ModelConfig c, ScalarType dtype)
{
    /// <summary>Bytes of one weight element.</summary>
    readonly int e = dtype == ScalarType.Float32 ? 4 : 2;

    public ModelConfig Config => c;

    // ---- parameters ---------------------------------------------------------------------------------------------

    long Q => (long)c.NumAttentionHeads * c.HeadDim;   // width of the query projection
    long Kv => (long)c.NumKeyValueHeads * c.HeadDim;   // width of the key and of the value projection

    /// <summary>In and out features of each linear layer of a decoder layer, by its HF name.</summary>
    public IReadOnlyDictionary<string, (long In, long Out)> Linears => new Dictionary<string, (long, long)>
    {
        ["q_proj"] = (c.HiddenSize, Q), ["k_proj"] = (c.HiddenSize, Kv), ["v_proj"] = (c.HiddenSize, Kv), ["o_proj"] = (Q, c.HiddenSize),
        ["gate_proj"] = (c.HiddenSize, c.IntermediateSize), ["up_proj"] = (c.HiddenSize, c.IntermediateSize),
        ["down_proj"] = (c.IntermediateSize, c.HiddenSize),
    };

    /// <summary>Every parameter of <see cref="CausalLM"/>: embedding, per layer the 7 matrices, the q/k/v (and o) biases
    /// and 2 norms, the final norm, and the LM head unless tied.</summary>
    public long Parameters
    {
        get
        {
            long layer = Linears.Values.Sum(l => l.In * l.Out) + 2L * c.HiddenSize
                         + (c.QkvBias ? Q + 2 * Kv : 0) + (c.OutputBias ? c.HiddenSize : 0);
            long embedding = (long)c.VocabSize * c.HiddenSize;
            return embedding * (c.TieWordEmbeddings ? 1 : 2) + c.NumHiddenLayers * layer + c.HiddenSize;
        }
    }

    /// <summary>The largest single tensor (the embedding or LM head): the optimiser's per-tensor temporaries scale with it.</summary>
    long LargestTensor => Math.Max((long)c.VocabSize * c.HiddenSize, Linears.Values.Max(l => l.In * l.Out));

    /// <summary>LoRA's trainable parameters: r (in + out) per adapted linear layer.</summary>
    public long LoraParameters(LoraOptions lora) => c.NumHiddenLayers *
        Linears.Where(l => lora.TargetModules.Contains(l.Key)).Sum(l => lora.Rank * (l.Value.In + l.Value.Out));

    // ---- activations ----------------------------------------------------------------------------------------------

    /// <summary>
    /// Bytes per token that one decoder layer keeps for backward (Model/DecoderLayer.cs; h hidden, m MLP width, W the
    /// packed row's width): each RMSNorm keeps its fp32 input (4h) and normalised value (e h), and its output is kept by
    /// the projections that read it (e h, twice); attention keeps rotated q and k, v, its output and the merged heads for
    /// o_proj (e (3 Q + 2 Kv)); with grouped-query attention also the query folded into the G heads of a key/value group
    /// (a copy, e Q) and the boolean mask expanded over them (measured: held twice, 2 G W; W without groups); the MLP keeps
    /// gate, silu(gate), up and their product (4 e m). With LoRA a frozen layer keeps an input only for an adapter: the norm
    /// outputs, the merged heads and the MLP product are dropped for untargeted projections. Against live allocations of
    /// the real layer (`memory --components`): 1-9% under.
    /// </summary>
    public long LayerBytesPerToken(int width, LoraOptions? lora = null)
    {
        bool Keeps(params string[] layers) => lora is null || layers.Any(lora.TargetModules.Contains);
        long h = c.HiddenSize, m = c.IntermediateSize;
        bool grouped = c.KvGroups > 1;
        long norms = 2 * (4 * h + e * h);
        long normOutputs = e * h * ((Keeps("q_proj", "k_proj", "v_proj") ? 1 : 0) + (Keeps("gate_proj", "up_proj") ? 1 : 0));
        long attention = e * (Q + 2 * Kv) + e * Q + (Keeps("o_proj") ? e * Q : 0)
                         + (grouped ? e * Q + 2L * c.KvGroups * width : width);
        long mlp = 3 * e * m + (Keeps("down_proj") ? e * m : 0);
        return norms + normOutputs + attention + mlp;
    }

    /// <summary>
    /// The LM head's peak (Model/CausalLM.Logits, Training/PackedBatch.GroupLogProbs) per vocabulary entry, with n tokens
    /// forwarded and k scored. Forward: the logits in the weight dtype and in fp32 ((e + 4) n), then the fp32 logits next
    /// to the scored rows and their log_softmax (4 n + 8 k). Backward: the log_softmax output, its gradient and the
    /// gathered gradient (12 k), the zero-filled fp32 gradient of all logits with the scored rows' (4 n + 4 k), then that
    /// gradient and its cast ((4 + e) n). The SFT step holds its fp32 logits and scored rows (4 n + 4 k) through backward
    /// as well. Measured alone (`memory --components`): 1-6% under.
    /// </summary>
    public long LogitBytes(MicroBatchShape s, bool backward)
    {
        long n = s.Tokens, k = s.ScoredTokens;
        long forward = Math.Max((e + 4) * n, 4 * n + 8 * k);
        long back = Math.Max(Math.Max(12 * k, 4 * n + 4 * k), (4 + e) * n) + (s.KeepsLogits ? 4 * n + 4 * k : 0);
        return c.VocabSize * (backward ? Math.Max(forward, back) : forward);
    }

    /// <summary>A layer's temporaries while it runs, forward or backward (the gradients of its intermediates): about half of
    /// what it keeps (measured 0.2-0.6 of it on three model sizes).</summary>
    public static long LayerTemporaries(long kept) => kept / 2;

    /// <summary>
    /// Activations at their peak, beside the row masks ([rows, 1, W, W] and its copy with the diagonal set). Without
    /// checkpointing every layer keeps its tensors (all of them at the end of the forward), then the largest of: the LM
    /// head's peak, a layer's backward temporaries, or the layers' outputs that a forward holds until the LM head runs
    /// (e h per token per layer) next to the last layer's temporaries. With checkpointing the outputs are all the layers
    /// keep (they are the checkpoints), and backward recomputes one layer at a time (its tensors and its temporaries).
    /// </summary>
    public long ActivationBytes(MicroBatchShape s, bool checkpointing, LoraOptions? lora = null)
    {
        long masks = 2L * s.Rows * s.Width * s.Width;
        long outputs = c.NumHiddenLayers * e * c.HiddenSize * s.Tokens;
        long layer = LayerBytesPerToken(s.Width, lora) * s.Tokens;
        long logits = LogitBytes(s, backward: true);
        if (checkpointing) return masks + outputs + Math.Max(logits, layer + LayerTemporaries(layer));
        return masks + c.NumHiddenLayers * layer + Math.Max(logits, outputs + LayerTemporaries(layer));
    }

    // ---- stages ---------------------------------------------------------------------------------------------------

    /// <summary>
    /// A training step (sft and train stages): weights, gradients and AdamW states of the trainable parameters, and the
    /// larger of two moments: the forward/backward peak (activations; the gradients are all alive from the second
    /// micro-batch on, so with accumulation they add up) and the optimiser step (AdamW and the gradient norm make fp32
    /// temporaries of one tensor at a time: 8 bytes per element of the largest, 4 when the weights are fp32).
    /// </summary>
    public MemoryEstimate Training(MicroBatchShape s, int accumulation, bool checkpointing, LoraOptions? lora, string stage = "train")
    {
        long trainable = lora is null ? Parameters : LoraParameters(lora);
        long weights = e * (Parameters + (lora is null ? 0 : trainable));
        long gradients = e * trainable;
        long optimizer = (e == 4 ? 8 : 12) * trainable;
        long activations = ActivationBytes(s, checkpointing, lora);
        // Gradients next to the activations: all of them once a previous micro-batch ran; else, at the start of backward,
        // the LM head's (the embedding's when tied), its first gradient.
        long gradientsInForward = accumulation > 1 ? gradients : lora is null ? e * (long)c.VocabSize * c.HiddenSize : 0;
        long optimizerTemporaries = (e == 4 ? 4 : 8) * (lora is null ? LargestTensor : trainable);
        long peakExtra = Math.Max(gradientsInForward + activations, gradients + optimizerTemporaries) - gradients;
        return new MemoryEstimate(stage, weights, gradients, optimizer, peakExtra);
    }

    /// <summary>The reference pass (no gradients): weights, the layers' outputs, one layer's tensors and temporaries at a
    /// time, and the LM head's forward.</summary>
    public MemoryEstimate Reference(MicroBatchShape s)
    {
        long outputs = c.NumHiddenLayers * e * c.HiddenSize * s.Tokens;
        long layer = LayerBytesPerToken(s.Width) * s.Tokens;
        long working = layer + LayerTemporaries(layer) + 2L * s.Rows * s.Width * s.Width;
        return new("reference", e * Parameters, 0, 0, outputs + Math.Max(working, LogitBytes(s, backward: false)));
    }

    /// <summary>
    /// Generation (sample, pairs, evaluate): weights, the KV cache (keys and values of every layer: 2 Kv e bytes per
    /// layer per token, preallocated for prompt + new tokens of every sequence), and the prefill of one prompt batch,
    /// one layer at a time, and the last position's logits.
    /// </summary>
    public MemoryEstimate Generation(int sequences, int promptTokens, int newTokens)
    {
        long cache = 2L * c.NumHiddenLayers * Kv * e * sequences * (promptTokens + newTokens);
        var prefill = new MicroBatchShape(sequences, promptTokens, 0);
        long outputs = c.NumHiddenLayers * e * c.HiddenSize * prefill.Tokens;
        long layer = LayerBytesPerToken(promptTokens) * prefill.Tokens;
        long activations = outputs + layer + LayerTemporaries(layer) + 2L * sequences * promptTokens * promptTokens + 4L * c.VocabSize * sequences;
        return new MemoryEstimate("generation", e * Parameters, 0, 0, cache + activations);
    }

    /// <summary>
    /// The micro-batch x accumulation that reaches <paramref name="globalBatch"/> examples per step within
    /// <paramref name="budget"/> bytes: the largest micro-batch that divides the global batch and fits (fewer, larger
    /// forward passes are faster), or null when not even one example fits.
    /// </summary>
    public (int MicroBatch, int Accumulation, MemoryEstimate Estimate)? FitBatch(int globalBatch, Func<int, MicroBatchShape> shape,
        long budget, bool checkpointing, LoraOptions? lora)
    {
        for (int micro = globalBatch; micro >= 1; micro--)
        {
            if (globalBatch % micro != 0) continue;
            int accumulation = globalBatch / micro;
            var estimate = Training(shape(micro), accumulation, checkpointing, lora);
            if (estimate.Total <= budget) return (micro, accumulation, estimate);
        }
        return null;
    }
}
