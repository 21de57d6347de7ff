using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;
using StepDpo.Torch.Tests.Training;
using StepDpo.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Placement;

/// <summary>
/// The hot paths on libtorch's meta device: tensors with shapes and no data. A tensor made on the CPU by mistake shows
/// up here as a tensor whose device is cpu, or as "Expected all tensors to be on the same device" from the first
/// operation that mixes it in. Meta has no data, so every path stops at its first host read (a metric's item(), log-probs
/// copied out): the tests run each path up to that read and check that this, and not a device mismatch, is what stopped
/// it. What meta cannot run at all (index_select of the embedding, SDPA, log_sigmoid, multinomial) is covered by
/// <see cref="TensorFactoryTests"/>.
/// </summary>
public class MetaPlacementTests
{
    static readonly Device Meta = new(DeviceType.META);

    static void OnMeta(Tensor? t, string what)
    {
        Assert.NotNull(t);
        Assert.True(t!.device_type == DeviceType.META, $"{what} is on {t.device}, not on the run's device");
    }

    /// <summary>The error of reading data that meta does not have: the path got that far without a device mismatch.</summary>
    static void StoppedAtHostRead(Exception e)
    {
        string message = e.GetBaseException().Message;
        Assert.DoesNotContain("same device", message);
        Assert.Contains("meta", message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("no data", message);
    }

    static TrainOptions Options(string loss = "ipo", bool shared = true, LoraOptions? lora = null) => new()
    {
        Loss = [loss], Beta = 0.5, LearningRate = 1e-3, Epochs = 1, MicroBatchSize = 2, GradientAccumulationSteps = 1,
        MaxLength = 64, MaxPromptLength = 48, Seed = 3, SharedPrefix = shared, Lora = lora,
    };

    [Fact]
    public void The_model_is_built_and_loaded_on_the_device_in_the_requested_dtype()
    {
        using var built = new CausalLM(Presets.Create("qwen2", "tiny", 300), ScalarType.BFloat16, Meta);
        RandomInit.Apply(built, 1); // values made on the host, copied into device weights
        foreach (var (name, p) in built.named_parameters())
        {
            OnMeta(p, name);
            Assert.Equal(ScalarType.BFloat16, p.dtype);
        }
        foreach (var model in Fixtures.Models)
        {
            using var loaded = Checkpoint.Load(Fixtures.Folder(model), ScalarType.BFloat16, Meta);
            Assert.All(loaded.named_parameters(), p => OnMeta(p.parameter, $"{model} {p.name}"));
            Assert.Equal(DeviceType.META, loaded.Device.type);
        }
    }

    [Fact]
    public void Packed_batches_are_created_on_the_device_in_every_layout()
    {
        var pairs = TestPairs.Random(3, prefix: 6, step: 3);
        using var shared = SharedPrefixBatch.Build(pairs, sharedPrefix: true, Meta);
        using var twoRows = SharedPrefixBatch.Build(pairs, sharedPrefix: false, Meta);
        using var sft = SftTrainer.Pack(pairs.Select(p => new SftExample(p.Prompt, p.Chosen)).ToList(), maxLength: 32, Meta);
        foreach (var (name, b) in new[] { ("shared prefix", shared), ("two rows", twoRows), ("sft packed", sft) })
        {
            OnMeta(b.InputIds, $"{name} ids"); OnMeta(b.PositionIds, $"{name} positions");
            OnMeta(b.PredictorIndex, $"{name} predictor index"); OnMeta(b.TargetIds, $"{name} targets");
            OnMeta(b.GroupIndex, $"{name} groups");
        }
        OnMeta(shared.AttentionMask, "shared-prefix mask");
        OnMeta(sft.AttentionMask, "packed sft mask");
        Assert.Null(twoRows.AttentionMask); // one segment per row: causal attention, no mask at all

        using var logits = randn(shared.Rows, shared.Width, 300, device: Meta);
        OnMeta(shared.GroupLogProbs(logits), "per-group log-probs");
    }

    [Fact]
    public void An_sft_step_runs_forward_loss_and_backward_on_the_device()
    {
        using var dir = new TempDir();
        using var model = new MetaLM(MetaLM.Config(), Meta);
        var examples = TestPairs.Random(4, prefix: 5, step: 4, vocab: 64).Select(p => new SftExample(p.Prompt, p.Chosen)).ToList();
        var e = Assert.ThrowsAny<Exception>(() => SftTrainer.Train(model, examples, Options(), dir.Path));
        StoppedAtHostRead(e);
        Assert.All(model.named_parameters(), p => OnMeta(p.parameter.grad, $"gradient of {p.name}"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_step_dpo_step_runs_forward_loss_and_backward_on_the_device(bool sharedPrefix)
    {
        // ipo: meta has no kernel for log_sigmoid (sigmoid, robust) or relu (hinge); ipo still takes the reference
        // log-probs and the completion lengths, the tensors the trainer makes for the loss.
        using var dir = new TempDir();
        using var model = new MetaLM(MetaLM.Config(), Meta);
        var pairs = TestPairs.Random(4, prefix: 6, step: 3, vocab: 64);
        var refs = new ReferenceLogps("k", [-3, -4, -5, -6], [-3.5, -4.5, -5.5, -6.5], [3, 4, 3, 4], [4, 3, 4, 3]);
        var e = Assert.ThrowsAny<Exception>(() => StepDpoTrainer.Train(model, pairs, refs, Options(shared: sharedPrefix), dir.Path));
        StoppedAtHostRead(e);
        Assert.All(model.named_parameters(), p => OnMeta(p.parameter.grad, $"gradient of {p.name}"));
    }

    [Fact]
    public void The_reference_pass_runs_on_the_device_until_it_copies_the_log_probs_out()
    {
        using var model = new MetaLM(MetaLM.Config(), Meta);
        var pairs = TestPairs.Random(3, prefix: 6, step: 3, vocab: 64);
        var e = Assert.ThrowsAny<Exception>(() => ReferenceLogProbs.Compute(model, pairs, "k", microBatchSize: 2));
        StoppedAtHostRead(e);
    }

    [Fact]
    public void Lora_adapters_and_their_gradients_live_on_the_device()
    {
        using var dir = new TempDir();
        using var model = new MetaLM(MetaLM.Config(), Meta);
        var lora = new LoraOptions { Rank = 2, Alpha = 4, TargetModules = ["q_proj", "v_proj"] };
        // The whole trainer with adapters, up to its first metric read...
        var pairs = TestPairs.Random(4, prefix: 6, step: 3, vocab: 64);
        var refs = new ReferenceLogps("k", [-3, -4, -5, -6], [-3.5, -4.5, -5.5, -6.5], [3, 4, 3, 4], [4, 3, 4, 3]);
        StoppedAtHostRead(Assert.ThrowsAny<Exception>(() => StepDpoTrainer.Train(model, pairs, refs, Options(lora: lora), dir.Path)));
        // ...and the adapters themselves: drawn on the host, then moved to the weights' device.
        using var adapters = new LoraAdapters(model, lora, seed: 1);
        Assert.NotEqual(0, adapters.Count);
        Assert.All(adapters.Parameters, a => OnMeta(a.Parameter, a.Name));
    }

    [Fact]
    public void Optimizer_state_grad_norm_and_clipping_stay_on_the_device()
    {
        using var model = new MetaLM(MetaLM.Config(), Meta, ScalarType.BFloat16);
        var trainable = model.named_parameters().ToList();
        using var optimizer = new AdamW(trainable, weightDecay: 0.1);
        foreach (var (_, p) in trainable) p.grad = randn(p.shape, dtype: ScalarType.BFloat16, device: Meta);
        // The norm is summed on the device; only its final read needs data.
        StoppedAtHostRead(Assert.ThrowsAny<Exception>(() => optimizer.GradNorm()));
        optimizer.ScaleGrads(0.5);
        optimizer.Step(1e-3);
        Assert.Equal(1, optimizer.StepCount);
        Assert.All(trainable, p => OnMeta(p.parameter, p.name));
        using var dir = new TempDir();
        StoppedAtHostRead(Assert.ThrowsAny<Exception>(() => optimizer.Save(dir.Sub("optimizer.bin")))); // saved via the host
    }

    [Fact]
    public void The_kv_cache_and_the_decode_inputs_live_on_the_device()
    {
        var config = Presets.Create("qwen2", "tiny", 300);
        using var cache = new KvCache(config, batch: 2, capacity: 8, ScalarType.BFloat16, Meta);
        using var k = randn(2, config.NumKeyValueHeads, 3, config.HeadDim, dtype: ScalarType.BFloat16, device: Meta);
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            var (keys, values) = cache.Append(layer, k, k);
            OnMeta(keys, "cached keys"); OnMeta(values, "cached values");
            Assert.Equal(3, keys.shape[2]);
        }
        cache.Advance(3);
        using var rows = arange(2, dtype: ScalarType.Int64, device: Meta).repeat_interleave(2);
        using var copied = cache.Select(rows);
        Assert.Equal(4, copied.BatchSize);
        OnMeta(copied.Append(0, randn(4, config.NumKeyValueHeads, 1, config.HeadDim, dtype: ScalarType.BFloat16, device: Meta),
            randn(4, config.NumKeyValueHeads, 1, config.HeadDim, dtype: ScalarType.BFloat16, device: Meta)).Keys, "selected cache");

        // Continuous batching: running rows and newly prefilled ones merged into one cache.
        using var one = tensor(new long[] { 1 }, device: Meta);
        using var merged = KvCache.Merge([(cache, rows, 1), (copied, one, 0)], length: 3, capacity: 6);
        Assert.Equal(5, merged.BatchSize);
        OnMeta(merged.Append(0, randn(5, config.NumKeyValueHeads, 1, config.HeadDim, dtype: ScalarType.BFloat16, device: Meta),
            randn(5, config.NumKeyValueHeads, 1, config.HeadDim, dtype: ScalarType.BFloat16, device: Meta)).Keys, "merged cache");

        var (ids, valid) = DecodeInputs.LeftPad([[5, 6, 7], [8]], 3, Meta);
        OnMeta(ids, "prompt ids"); OnMeta(valid, "valid slots");
        OnMeta(DecodeInputs.Positions(valid), "prefill positions");
        using var prefill = DecodeInputs.PrefillMask(valid);
        OnMeta(prefill, "prefill mask");
        Assert.Equal([2, 1, 3, 3], prefill.shape);
        using var afterPrefix = DecodeInputs.PrefillMask(valid, valid);
        OnMeta(afterPrefix, "prefill mask after a shared prefix");
        Assert.Equal([2, 1, 3, 6], afterPrefix.shape);
        using var extended = DecodeInputs.Extend(valid);
        OnMeta(DecodeInputs.StepMask(extended), "decode-step mask");
    }
}
