using StepDpo.Core.Manifests;

namespace StepDpo.Core.Tests;

public class ManifestTests
{
    const string Minimal = "name: t\nmodel:\n  path: some/model\n  template: alpaca\n";

    static ManifestException Fails(TempWorkspace ws, string yaml, params string[] sets)
    {
        ws.Write("experiments/x.yaml", yaml);
        return Assert.Throws<ManifestException>(() => ManifestLoader.Load("x", ws.Workspace, sets));
    }

    [Fact]
    public void Unknown_key_names_file_line_column_and_suggests_the_right_key()
    {
        using var ws = new TempWorkspace();
        var e = Fails(ws, Minimal + "train:\n  learning_rat: 0.1\n");
        var problem = Assert.Single(e.Problems);
        Assert.Equal("experiments/x.yaml:6:3: unknown key 'train.learning_rat'; did you mean 'learning_rate'?",
            problem.Replace(ws.Root + "/", ""));
    }

    [Fact]
    public void Wrong_type_names_key_path_and_expected_type()
    {
        using var ws = new TempWorkspace();
        var e = Fails(ws, Minimal + "train:\n  beta: high\n  epochs: [1]\nsample:\n  n: \"4\"\n");
        Assert.Equal(3, e.Problems.Count);
        Assert.EndsWith("x.yaml:6:9: 'train.beta': expected a number, got 'high'", e.Problems[0]);
        Assert.EndsWith("x.yaml:7:11: 'train.epochs': expected an integer, got a list", e.Problems[1]);
        Assert.EndsWith("x.yaml:9:6: 'sample.n': expected an integer, got '4'", e.Problems[2]);
    }

    [Fact]
    public void Values_outside_their_set_or_range_are_rejected_with_a_hint()
    {
        using var ws = new TempWorkspace();
        var e = Fails(ws, Minimal + "train:\n  loss: sigmod\n  warmup_ratio: 1.5\n");
        Assert.Contains(e.Problems, p => p.Contains("'train.loss': 'sigmod' is not one of: sigmoid, hinge, ipo, exo_pair,") &&
                                         p.EndsWith("; did you mean 'sigmoid'?"));
        Assert.Contains(e.Problems, p => p.EndsWith("'train.warmup_ratio': 1.5 is out of range [0, 1]"));
    }

    [Fact]
    public void Train_loss_is_a_list_of_TRL_loss_types_with_weights_and_a_single_name_is_a_list_of_one()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/x.yaml", Minimal + "train:\n  loss: ipo\n");
        var t = ManifestLoader.Load("x", ws.Workspace).Manifest.Train;
        Assert.Equal(["ipo"], t.Loss);
        Assert.Empty(t.LossWeights);
        ws.Write("experiments/x.yaml", Minimal + "train:\n  loss: [sigmoid, sft]\n  loss_weights: [1, 0.5]\n");
        t = ManifestLoader.Load("x", ws.Workspace, ["train.loss=[sigmoid, bco_pair, sft]", "train.loss_weights=[0.8, 0.2, 1.0]"]).Manifest.Train;
        Assert.Equal(["sigmoid", "bco_pair", "sft"], t.Loss);
        Assert.Equal([0.8, 0.2, 1.0], t.LossWeights);

        var e = Fails(ws, Minimal + "train:\n  loss: [sigmoid, bco_par]\n  loss_weights: [1]\n");
        Assert.Matches(@"x\.yaml:6:\d+: 'train\.loss\[1\]': 'bco_par' is not one of: .*; did you mean 'bco_pair'\?$", Assert.Single(e.Problems));
        e = Fails(ws, Minimal + "train:\n  loss: [sigmoid, bco_pair]\n  loss_weights: [1]\n");
        Assert.EndsWith("'train.loss_weights': 1 weights for 2 losses ([sigmoid, bco_pair]); give one weight per loss, or none for 1 each", Assert.Single(e.Problems));
        e = Fails(ws, Minimal + "train:\n  loss: [exo_pair, sigmoid, sigmoid]\n");
        Assert.Contains(e.Problems, p => p.EndsWith("'train.loss': 'sigmoid' is listed 2 times; list it once with the summed weight"));
        Assert.Contains(e.Problems, p => p.Contains("exo_pair needs label_smoothing > 0 (its epsilon; the EXO paper recommends 1e-3)"));
        e = Fails(ws, Minimal + "train:\n  label_smoothing: 0.1\n");
        Assert.Contains(e.Problems, p => p.EndsWith("'train.label_smoothing': 0.1 is read only by robust, exo_pair, aot, aot_unpaired, and none of them is in loss (TRL 1.x's sigmoid has no label smoothing)"));
    }

    [Fact]
    public void Missing_required_keys_and_cross_field_rules_are_reported()
    {
        using var ws = new TempWorkspace();
        var e = Fails(ws, "model:\n  template: alpaca\n");
        Assert.Contains(e.Problems, p => p.Contains("missing required key 'name'"));
        Assert.Contains(e.Problems, p => p.Contains("set exactly one of model.path"));
    }

    [Fact]
    public void Model_device_accepts_auto_cpu_cuda_and_cuda_n_and_the_old_per_stage_keys_are_gone()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/x.yaml", Minimal + "  device: cuda:1\n");
        Assert.Equal("cuda:1", ManifestLoader.Load("x", ws.Workspace).Manifest.Model.Device);
        Assert.Contains(Fails(ws, Minimal + "  device: gpu\n").Problems, p => p.Contains("'model.device': 'gpu' must be auto, cpu, cuda or cuda:N"));
        Assert.Contains(Fails(ws, Minimal + "train:\n  device: cuda\n").Problems, p => p.Contains("unknown key 'train.device'"));
    }

    [Fact]
    public void Per_device_batch_size_auto_binds_as_planned_and_needs_a_global_batch()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/x.yaml", Minimal + "train:\n  per_device_batch_size: auto\n  global_batch_size: 64\n");
        var m = ManifestLoader.Load("x", ws.Workspace).Manifest;
        Assert.Null(m.Train.PerDeviceBatchSize);
        Assert.Equal(64, m.Train.GlobalBatchSize);

        var e = Fails(ws, Minimal + "train:\n  per_device_batch_size: auto\n");
        Assert.Contains(e.Problems, p => p.Contains("'train.per_device_batch_size': auto needs global_batch_size"));
        e = Fails(ws, Minimal + "train:\n  per_device_batch_size: 4\n  global_batch_size: 64\n");
        Assert.Contains(e.Problems, p => p.Contains("'train.global_batch_size': is only read with per_device_batch_size: auto"));
        e = Fails(ws, Minimal + "train:\n  per_device_batch_size: \"auto\"\n  global_batch_size: 64\n");
        Assert.Contains(e.Problems, p => p.EndsWith("'train.per_device_batch_size': expected an integer, got 'auto'"));
        e = Fails(ws, Minimal + "train:\n  epochs: auto\n");
        Assert.Contains(e.Problems, p => p.EndsWith("'train.epochs': expected an integer, got 'auto'"));
    }

    [Fact]
    public void Yaml_syntax_errors_are_located()
    {
        using var ws = new TempWorkspace();
        var e = Fails(ws, "name: t\nmodel: [unclosed\n");
        Assert.Matches(@"x\.yaml:\d+:\d+: invalid YAML", e.Message);
    }

    [Fact]
    public void Extends_deep_merges_and_set_overrides_last()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/base.yaml", Minimal + "train:\n  beta: 0.5\n  epochs: 8\nsample:\n  n: 2\n");
        ws.Write("experiments/child.yaml", "extends: base.yaml\nname: child\ntrain:\n  beta: 0.4\n");
        var r = ManifestLoader.Load("child", ws.Workspace, new[] { "sample.n=7", "train.lora.rank=8" });
        Assert.Equal("child", r.Manifest.Name);
        Assert.Equal(0.4, r.Manifest.Train.Beta);
        Assert.Equal(8, r.Manifest.Train.Epochs);      // kept from base
        Assert.Equal(7, r.Manifest.Sample.N);          // --set
        Assert.Equal(8, r.Manifest.Train.Lora!.Rank);  // --set creates the section
        Assert.Equal("some/model", r.Manifest.Model.Path);
        Assert.Equal(2, r.Files.Count);
    }

    [Fact]
    public void Extends_cycles_and_missing_bases_are_errors()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/a.yaml", "extends: b.yaml\nname: a\n");
        ws.Write("experiments/b.yaml", "extends: a.yaml\nname: b\n");
        Assert.Contains("cycle", Assert.Throws<ManifestException>(() => ManifestLoader.Load("a", ws.Workspace)).Message);
        ws.Write("experiments/c.yaml", "extends: nope.yaml\nname: c\n");
        Assert.Contains("c.yaml:1:10: 'extends' names nope.yaml, which does not exist",
            Assert.Throws<ManifestException>(() => ManifestLoader.Load("c", ws.Workspace)).Message);
    }

    [Fact]
    public void Set_errors_point_at_the_override()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/x.yaml", Minimal);
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Load("x", ws.Workspace, new[] { "train.bta=1" }));
        Assert.Equal("--set train.bta=1: unknown key 'train.bta'; did you mean 'beta'?", e.Message);
        Assert.Contains("expected KEY=VALUE", Assert.Throws<ManifestException>(() => ManifestLoader.Load("x", ws.Workspace, new[] { "train.beta" })).Message);
    }

    [Fact]
    public void Null_clears_optional_values()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/x.yaml", Minimal + "pairs:\n  from: some/pairs\n");
        Assert.Null(ManifestLoader.Load("x", ws.Workspace, new[] { "pairs.from=null" }).Manifest.Pairs.From);
    }

    [Fact]
    public void Unknown_experiment_suggests_a_close_name()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/qwen2-72b.yaml", Minimal);
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Load("qwen2-27b", ws.Workspace));
        Assert.Contains("did you mean 'qwen2-72b'?", e.Message);
    }

    public static IEnumerable<object[]> Shipped() =>
        new Workspace(Repo.Root).ExperimentNames().Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(Shipped))]
    public void Every_shipped_experiment_resolves_to_its_snapshot(string name)
    {
        var r = ManifestLoader.Load(name, new Workspace(Repo.Root));
        Snapshooter.Xunit.Snapshot.Match(ManifestWriter.ToYaml(r.Manifest), Snapshooter.Xunit.Snapshot.FullName(new Snapshooter.SnapshotNameExtension(name)));
    }

    [Fact]
    public void The_paper_runs_carry_the_published_recipe()
    {
        var ws = new Workspace(Repo.Root);
        var m = ManifestLoader.Load("qwen2-72b", ws).Manifest;
        Assert.Equal("qwen2-boxed", m.Model.Template);
        Assert.Equal(128, m.Train.PerDeviceBatchSize!.Value * m.Train.GradientAccumulationSteps * m.Train.NumDevices);
        Assert.Equal(5e-7, m.Train.LearningRate);
        Assert.Equal(0.708, m.Expect["trained.math.accuracy"].Value);
        var sft7 = ManifestLoader.Load("qwen2-7b-sft", ws).Manifest;
        Assert.Equal(("alpaca", 0.5, 8.0, (int?)128), (sft7.Model.Template, sft7.Train.Beta, sft7.Train.Epochs,
            sft7.Train.PerDeviceBatchSize * sft7.Train.GradientAccumulationSteps * sft7.Train.NumDevices));
    }
}
