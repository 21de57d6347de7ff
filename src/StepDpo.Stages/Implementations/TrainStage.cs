using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Models;
using StepDpo.Stages.Training;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// train: Step-DPO on pairs.jsonl with the trainer train.backend names (a <see cref="TrainerBackend"/>: `local`, the
/// TorchSharp trainer; `trl`, a TRL DPOTrainer job). Output: metrics.jsonl/csv (TRL 1.x metric names), checkpoints,
/// final/ (HF checkpoint; with LoRA the PEFT adapter, or with lora.merge the merged checkpoint and adapter/).
/// Version 7: attention written out on the CPU up to 256 keys, the LM head on scored rows only (other float rounding); 6: trl writes pairs.jsonl in the full public format; 5: optimizer.safetensors, PEFT adapters,
/// per_device_batch_size auto; 4: loaded in the training dtype on model.device, causal SDPA; 3: a list of TRL loss
/// types with weights (rpo_alpha became [sigmoid, sft]); logits/*, entropy and mean_token_accuracy logged.
/// </summary>
public sealed class TrainStage(string name = "train", Links? links = null) : PipelineStage<TrainStage.Input>(name, links)
{
    public override int Version => 7;

    /// <param name="Settings">what the trainer reads (its <see cref="TrainerBackend.Read"/>)</param>
    public sealed record Input(long Seed, ModelSection Model, string Device, string Backend, object Settings);

    public override IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m) => [Links.StartModel, Links.Pairs];

    protected override Input Read(ManifestReader<Manifest> m)
    {
        var backend = TrainerBackend.All[m.Get(x => x.Train.Backend)];
        return new(m.Get(x => x.Seed), m.Get(x => x.Model), Slices.DeviceKind(m), backend.Name, backend.Read(m));
    }

    protected override IEnumerable<string> Files(Input input, Workspace ws) => ModelStore.StartModelFiles(input.Model, ws);

    protected override void Check(ReadinessCheck check, Input input, IReadOnlyList<string> upstream)
    {
        check.StartModel(input.Model, null, upstream.Contains(Links.StartModel));
        TrainerBackend.All[input.Backend].Check(check, input.Settings, input.Model, input.Seed);
    }

    protected override Task RunAsync(StageContext ctx, Input input, CancellationToken ct)
    {
        string pairsFile = Path.Combine(ctx.Upstream(Links.Pairs), PairsStage.FileName);
        var pairs = PairFile.Read(pairsFile).ToList();
        if (pairs.Count == 0) throw new StepDpoException($"{pairsFile}: no pairs to train on (see the pairs stage counters in its stage.json)");
        return TrainerBackend.All[input.Backend].RunAsync(new TrainJob(ctx, input.Seed, input.Model, Links.StartModel, pairs, pairsFile),
            input.Settings, ct);
    }

    /// <summary>Subfolder of the adapter when lora.merge makes final/ the merged model.</summary>
    public const string AdapterFolder = LocalTrainer.AdapterFolder;
}
