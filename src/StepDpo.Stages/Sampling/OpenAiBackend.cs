using System.Text.Json.Serialization;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Sampling;

/// <summary>`openai`: servers someone else runs (vLLM, SGLang, TGI, a hosted API), asked by served name. The server's
/// address and the names are keyed; the client's concurrency, timeouts, retries and key variable are not (they decide
/// how fast the same answers come: every prompt carries its own seed). The start model's name defaults to model.path,
/// and to the experiment's name without one (then the name is in the key).</summary>
public sealed class OpenAiBackend : GenerationBackend
{
    public override string Name => "openai";
    public override bool NeedsModelFolders => false;

    /// <param name="TrainedModel">evaluate only: the served trained model (required when it runs)</param>
    public sealed record Settings(string BaseUrl, string StartModel,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? TrainedModel = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? TrainedBaseUrl = null)
    {
        [JsonIgnore] public EndpointSection Client { get; init; } = new();
        /// <summary>evaluate names a start and a trained model, which must not be one served model.</summary>
        [JsonIgnore] public bool NamesTwoModels { get; init; }
    }

    public override object Read(ManifestReader<IGenerationSection> section)
    {
        var ep = section.Section(x => x.Endpoint);
        var client = section.GetUnkeyed(x => x.Endpoint);
        string ModelPathOrName() => section.Root.Get(x => x.Model.Path) ?? section.Root.Get(x => x.Name);
        if (ep.As<EvaluateEndpointSection>() is { } two)
            return new Settings(ep.Get(x => x.BaseUrl), two.Get(x => x.StartModel) ?? ModelPathOrName(), two.Get(x => x.TrainedModel),
                two.Get(x => x.TrainedBaseUrl)) { Client = client, NamesTwoModels = true };
        return new Settings(ep.Get(x => x.BaseUrl), ep.Get(x => x.Model) ?? ModelPathOrName()) { Client = client };
    }

    /// <summary>The role's served model. With two models (evaluate) both must be listed by /v1/models and must not be
    /// the same served model (vLLM reports each name's model path as its root), else the delta would silently be 0.</summary>
    public override async Task<ISampler> OpenAsync(object settings, ModelSection model, string modelDir, string role, StageContext ctx, CancellationToken ct)
    {
        var s = (Settings)settings;
        if (!s.NamesTwoModels) return Remote(s.Client, s.BaseUrl, s.StartModel);
        var start = (Url: s.BaseUrl, Name: s.StartModel);
        var trained = (Url: s.TrainedBaseUrl ?? s.BaseUrl, Name: s.TrainedModel ?? throw new StepDpoException(
            $"evaluate.endpoint.trained_model: name the served trained model. Serve the train stage's output, e.g. " +
            $"`vllm serve {modelDir} --served-model-name stepdpo-trained`, and set evaluate.endpoint.trained_model " +
            "(and trained_base_url when it is another server), or use backend vllm to let evaluate serve it"));
        var (target, other) = role == "trained" ? (trained, start) : (start, trained);
        var card = await ServedModels.FindAsync(target.Url, target.Name, s.Client.ApiKeyEnv, ct);
        // The other model's server may be down by now (one 72B server at a time): compare when it answers.
        if (await ServedModels.TryFindAsync(other.Url, other.Name, s.Client.ApiKeyEnv, ct) is { } otherCard && card.SameModelAs(otherCard))
            throw new StepDpoException($"evaluate.endpoint: start_model '{start.Name}' ({start.Url}) and trained_model '{trained.Name}' " +
                $"({trained.Url}) are the same served model ({card.Root ?? card.Id}): the trained model would be compared with itself");
        return Remote(s.Client, target.Url, target.Name);
    }

    /// <summary>A server someone else runs, asked for <paramref name="servedModel"/>.</summary>
    public static RemoteSampler Remote(EndpointSection client, string baseUrl, string servedModel) =>
        new(new OpenAiCompletionsBackend(ClientOptions(client, new Uri(baseUrl), servedModel)), client.Concurrency);

    public static OpenAiOptions ClientOptions(EndpointSection client, Uri baseUrl, string servedModel) => new()
    {
        BaseUrl = baseUrl,
        Model = servedModel,
        ApiKeyEnvironmentVariable = client.ApiKeyEnv,
        MaxConcurrency = client.Concurrency,
        RequestTimeout = TimeSpan.FromSeconds(client.TimeoutSeconds),
        MaxAttempts = client.MaxRetries + 1,
    };
}
