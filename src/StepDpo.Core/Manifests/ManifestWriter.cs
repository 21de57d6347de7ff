using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
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
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { OmitDefaultValues } },
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

    /// <summary>A key marked [DefaultValue] is written only when it differs from that value: a key added after artifacts
    /// were made (rounds) leaves the keys of every manifest that does not use it as they were.</summary>
    static void OmitDefaultValues(JsonTypeInfo type)
    {
        foreach (var property in type.Properties)
            if (property.AttributeProvider?.GetCustomAttributes(typeof(DefaultValueAttribute), true) is [DefaultValueAttribute d, ..])
                property.ShouldSerialize = (_, value) => !Equals(value, d.Value);
    }

    public static JsonElement ToJsonElement(object? value) => JsonSerializer.SerializeToElement(value, value?.GetType() ?? typeof(object), Json);
}
