using StepDpo.Core;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Data.Hub;
using StepDpo.Stages.Pool;
using StepDpo.Torch.Training.Trl;

namespace StepDpo.Stages;

/// <summary>Whether a stage can start here and now: <see cref="Problems"/> stop it before it starts (a missing file, a
/// bad data line, a recipe TRL would reject); <see cref="Notes"/> say what it will do first (a download);
/// <see cref="Gpu"/> names the step that needs GPUs, where the stage hands over to them.</summary>
public sealed record StageReadiness(IReadOnlyList<string> Problems, IReadOnlyList<string> Notes, string? Gpu)
{
    public bool Ready => Problems.Count == 0;
}

/// <summary>
/// The checks `stepdpo plan` runs for every stage that would run: inputs on disk (the model folder or its Hub cache
/// snapshot, pair and benchmark files, read through to their last line), keys only a run would trip over (the TRL
/// export is written to a scratch folder), and secrets the stage needs from the environment. Nothing is downloaded and
/// no server is contacted.
/// </summary>
public static class Readiness
{
    public static StageReadiness Check(string stage, Manifest m, Workspace ws)
    {
        var problems = new List<string>();
        var notes = new List<string>();
        string? gpu = null;
        void Try(Action check)
        {
            try { check(); }
            catch (StepDpoException e) { problems.Add(Secrets.Redact(e.Message)); }
            catch (IOException e) { problems.Add(Secrets.Redact(e.Message)); }
        }
        bool fromSft = m.Sft is { Enabled: true };
        switch (stage)
        {
            case "sft":
                Try(() => notes.Add($"{ProblemPool.SftExamples(m, ws).Problems.Count} training problems"));
                break;
            case "sample":
                Try(() => notes.Add($"{ProblemPool.Sampling(m, ws).Problems.Count} pool problems"));
                Model(m.Sample.Backend, m.Sample.Endpoint);
                break;
            case "verify":
                if (m.Verify.Method == "judge") Secret(m.Verify.Judge.ApiKeyEnv, "verify.judge.api_key_env");
                if (m.Verify.Method == "rollout") Model(m.Sample.Backend, m.Sample.Endpoint);
                break;
            case "pairs" when m.Pairs.From is { } from:
                Try(() => Pairs(from));
                break;
            case "pairs":
                Model(m.Sample.Backend, m.Sample.Endpoint);
                break;
            case "train":
                Model(m.Train.Backend == "trl" ? "trl" : "local", null);
                if (m.Train.Backend == "trl") Try(Trl);
                break;
            case "evaluate":
                foreach (var b in m.Evaluate.Benchmarks)
                    Try(() => notes.Add($"{b.Name}: {ProblemPool.Benchmark(b, m, ws).Problems.Count} problems"));
                Model(m.Evaluate.Backend, m.Evaluate.Endpoint);
                if (m.Evaluate.Backend == "openai") Secret(m.Evaluate.Endpoint.ApiKeyEnv, "evaluate.endpoint.api_key_env");
                break;
        }
        return new StageReadiness(problems, notes, gpu);

        void Secret(string? variable, string key)
        {
            if (variable is not null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)))
                problems.Add($"{key}: the environment variable {variable} is not set");
        }

        void Model(string backend, EndpointSection? endpoint)
        {
            if (backend == "openai" && endpoint is not null)
            {
                gpu ??= $"the OpenAI-compatible model server at {endpoint.BaseUrl}";
                return;
            }
            if (fromSft || m.Model.Path is not { } path) return;
            if (HubSnapshots.ResolveLocal(path, ws.Root, HubRepoType.Model, HubSelection.Model, m.Model.Revision) is { } dir)
            {
                if (!HubSelection.IsCheckpoint(dir)) problems.Add($"model.path {dir}: not a whole checkpoint (config.json, safetensors weights, tokenizer)");
                else notes.Add($"model: {Workspace.Display(dir)}");
            }
            else if (HubId.TryParse(path, HubRepoType.Model, m.Model.Revision) is { } id)
            {
                if (HubOptions.FromEnvironment().Offline) problems.Add($"model.path {id}: not in the Hub cache ({HubCache.DefaultRoot()}) and HF_HUB_OFFLINE is set");
                else notes.Add($"model: downloads {id} into {HubCache.DefaultRoot()} first");
            }
            else problems.Add($"model.path '{path}': no such folder ({Path.Combine(ws.Root, path)}) and not a Hub id");
        }

        void Pairs(string from)
        {
            string? path = HubSnapshots.ResolveLocal(from, ws.Root, HubRepoType.Dataset, HubSelection.Dataset);
            if (path is null)
            {
                var id = HubId.TryParse(from, HubRepoType.Dataset)
                         ?? throw new StepDpoException($"pairs.from '{from}': no such file or folder and not a Hub id");
                if (HubOptions.FromEnvironment().Offline) throw new StepDpoException($"pairs.from {id}: not in the Hub cache and HF_HUB_OFFLINE is set");
                notes.Add($"pairs: downloads {id} into {HubCache.DefaultRoot()} first");
                return;
            }
            var files = File.Exists(path) ? [path] : HubSelection.DataFiles(path).Select(f => Path.Combine(path, f)).ToList();
            if (files.Count == 0) throw new StepDpoException($"pairs.from '{from}': {path} holds no .parquet, .jsonl or .json file");
            int count = files.Sum(f => PairFile.Read(f).Count());
            notes.Add($"pairs: {count} from {Workspace.Display(path)}");
        }

        void Trl()
        {
            var dialect = TrlDialect.Of(m.Train.Trl.Version);
            var t = m.Train.Trl;
            var job = new TrlJob(m.Train.NumDevices, t.Machines, t.MachineRank, t.MainProcessIp, t.MainProcessPort, m.Train.Offload);
            string scratch = Directory.CreateTempSubdirectory("stepdpo-plan-trl-").FullName;
            try
            {
                TrlExport.Write(scratch, [new StepDpoRecord("p", "Step 1:", " a", " b")], r => r.Prompt,
                    Implementations.TrainOptionsFrom.StepDpo(m.Train, m.Seed), m.Model.Path ?? "model", dialect, job);
            }
            finally { Directory.Delete(scratch, true); }
            gpu = $"{TrlExport.Launcher} launch: TRL {dialect.Version} + DeepSpeed ZeRO-3, {job.Processes} GPUs on {job.Machines} node(s)" +
                  (m.Train.Offload != "none" ? $", CPU offload ({m.Train.Offload})" : "") +
                  (TrlOutput.LauncherAvailable() ? "" : $"; `{TrlExport.Launcher}` is not on PATH here: the stage writes launch.sh for a GPU node");
        }
    }
}
