using StepDpo.Core.Manifests;

namespace StepDpo.Core.Tests;

/// <summary>The serving keys: evaluate's two served models must be named apart, and the serve section binds.</summary>
public class ServeManifestTests
{
    const string Minimal = "name: t\nmodel:\n  path: some/model\n  template: alpaca\n";

    static ManifestException Fails(string yaml)
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/x.yaml", yaml);
        return Assert.Throws<ManifestException>(() => ManifestLoader.Load("x", ws.Workspace));
    }

    [Fact]
    public void One_model_name_for_both_evaluations_is_refused_where_it_is_written()
    {
        var e = Fails(Minimal + "evaluate:\n  backend: openai\n  endpoint:\n    model: qwen2-72b\n  benchmarks: [{name: g, source: gsm8k}]\n");
        var problem = Assert.Single(e.Problems);
        Assert.Matches(@"x\.yaml:8:12: 'evaluate\.endpoint\.model': 'qwen2-72b' would name one served model for both", problem);
        Assert.Contains("set start_model and trained_model instead", problem);
    }

    [Fact]
    public void Start_and_trained_resolving_to_the_same_served_model_is_an_error()
    {
        var same = Fails(Minimal + "evaluate:\n  backend: openai\n  endpoint: {start_model: m, trained_model: m}\n  benchmarks: [{name: g, source: gsm8k}]\n");
        Assert.Contains("'evaluate.endpoint.trained_model': start_model and trained_model both resolve to 'm'", Assert.Single(same.Problems));

        // The start model's default name is model.path.
        var byDefault = Fails(Minimal + "evaluate:\n  backend: openai\n  endpoint: {trained_model: some/model}\n  benchmarks: [{name: g, source: gsm8k}]\n");
        Assert.Contains("'evaluate.endpoint.trained_model': start_model and trained_model both resolve to 'some/model'", Assert.Single(byDefault.Problems));
    }

    [Fact]
    public void The_same_name_on_two_servers_and_two_names_on_one_server_are_fine()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/x.yaml", Minimal + """
            evaluate:
              backend: openai
              endpoint: {start_model: m, trained_model: m, trained_base_url: 'http://127.0.0.1:8001'}
              benchmarks: [{name: g, source: gsm8k}]
            """);
        Assert.Equal("http://127.0.0.1:8001", ManifestLoader.Load("x", ws.Workspace).Manifest.Evaluate.Endpoint.TrainedBaseUrl);
        ws.Write("experiments/y.yaml", Minimal.Replace("name: t", "name: y") + "evaluate:\n  backend: openai\n  endpoint: {trained_model: tuned}\n  benchmarks: [{name: g, source: gsm8k}]\n");
        Assert.Equal("tuned", ManifestLoader.Load("y", ws.Workspace).Manifest.Evaluate.Endpoint.TrainedModel);
    }

    [Fact]
    public void The_serve_section_binds_with_its_defaults_and_checks()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/x.yaml", Minimal + """
            sample: {backend: vllm}
            serve:
              command: [/opt/venv/bin/vllm, serve]
              max_model_len: 4096
              extra_args: [--gpu-memory-utilization, '0.85']
              env: {CUDA_VISIBLE_DEVICES: '0,1'}
            """);
        var serve = ManifestLoader.Load("x", ws.Workspace).Manifest.Serve;
        Assert.Equal(["/opt/venv/bin/vllm", "serve"], serve.Command);
        Assert.Equal((1, 4096, 1800.0, 30.0), (serve.TensorParallelSize, serve.MaxModelLen, serve.StartupTimeoutSeconds, serve.StopTimeoutSeconds));
        Assert.Equal(["--gpu-memory-utilization", "0.85"], serve.ExtraArgs);
        Assert.Equal("0,1", serve.Env["CUDA_VISIBLE_DEVICES"]);

        var bad = Fails(Minimal + "sample: {backend: vlm}\nserve: {tensor_parallel_size: 0}\n");
        Assert.Contains(bad.Problems, p => p.EndsWith("'sample.backend': 'vlm' is not one of: local, openai, vllm, sglang; did you mean 'vllm'?"));
        Assert.Contains(bad.Problems, p => p.EndsWith("'serve.tensor_parallel_size': 0 is out of range [1, 1024]"));
    }
}
