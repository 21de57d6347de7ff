using System.Text.Json;
using System.Text.Json.Serialization;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace StepDpo.Core.Manifests;

/// <summary>The resolved manifest as YAML (for people) and canonical JSON (for hashing and stage.json).</summary>
public static class ManifestWriter
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static readonly JsonSerializerOptions JsonIndented = new(Json) { WriteIndented = true };

    public static string ToYaml(object value) => new SerializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .ConfigureDefaultValuesHandling(DefaultValuesHandling.Preserve)
        .DisableAliases()
        .Build()
        .Serialize(value);

    /// <summary>Stable JSON: property order is declaration order, numbers round-trip.</summary>
    public static string ToCanonicalJson(object? value) => JsonSerializer.Serialize(value, value?.GetType() ?? typeof(object), Json);

    public static JsonElement ToJsonElement(object? value) => JsonSerializer.SerializeToElement(value, value?.GetType() ?? typeof(object), Json);
}
