namespace StepDpo.Data.Tests;

internal static class Fixture
{
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);

    /// <summary>A fresh temporary folder, removed by the caller's using.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("stepdpo-data-").FullName;
        public string File(string name, string? content = null)
        {
            var p = System.IO.Path.Combine(Root, name);
            if (content is not null) System.IO.File.WriteAllText(p, content);
            return p;
        }
        public void Dispose() { try { Directory.Delete(Root, true); } catch (IOException) { } }
    }
}
