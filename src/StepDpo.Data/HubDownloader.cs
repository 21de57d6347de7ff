using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using StepDpo.Core;

namespace StepDpo.Data;

/// <summary>A file in a Hugging Face hub repository at a pinned revision (a commit hash, so the
/// bytes never change), optionally with its expected sha256.</summary>
public sealed record HubFile(string Repo, string Revision, string PathInRepo, string? Sha256 = null, string RepoType = "datasets");

/// <summary>Downloads hub files into a local cache: cached files are reused after their hash is
/// checked, interrupted downloads resume from the partial file with an HTTP Range request, and a
/// file whose sha256 differs from the pinned one is rejected (and removed).</summary>
public sealed class HubDownloader(HttpClient http, string cacheDirectory, string endpoint = "https://huggingface.co")
{
    /// <summary>The cache folder used when none is given: $STEPDPO_CACHE or ~/.cache/stepdpo/hub.</summary>
    public static string DefaultCacheDirectory =>
        Environment.GetEnvironmentVariable("STEPDPO_CACHE") is { Length: > 0 } env
            ? Path.Combine(env, "hub")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "stepdpo", "hub");

    public Uri UrlOf(HubFile f) =>
        new($"{endpoint.TrimEnd('/')}/{(f.RepoType == "models" ? "" : f.RepoType + "/")}{f.Repo}/resolve/{Uri.EscapeDataString(f.Revision)}/{string.Join('/', f.PathInRepo.Split('/').Select(Uri.EscapeDataString))}");

    public string CachePathOf(HubFile f) =>
        Path.Combine(cacheDirectory, f.RepoType, f.Repo.Replace('/', Path.DirectorySeparatorChar), f.Revision,
            f.PathInRepo.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The local path of the file, downloading (or finishing a download) if needed.</summary>
    public async Task<string> DownloadAsync(HubFile file, CancellationToken ct = default)
    {
        Validate(file);
        var target = CachePathOf(file);
        if (File.Exists(target))
        {
            if (file.Sha256 is null || Sha256Of(target) == file.Sha256.ToLowerInvariant()) return target;
            File.Delete(target); // corrupted or replaced: fetch again
        }
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var partial = target + ".part";
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;

        using var request = new HttpRequestMessage(HttpMethod.Get, UrlOf(file));
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
        {
            // The partial file is already complete (the interruption came after the last byte).
        }
        else
        {
            if (!response.IsSuccessStatusCode)
                throw new StepDpoException($"download {UrlOf(file)}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
            await using var source = await response.Content.ReadAsStreamAsync(ct);
            await using (var sink = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write))
                await source.CopyToAsync(sink, ct);
        }
        if (file.Sha256 is { } expected)
        {
            var actual = Sha256Of(partial);
            if (actual != expected.ToLowerInvariant())
            {
                File.Delete(partial);
                throw new StepDpoException($"download {UrlOf(file)}: sha256 {actual} does not match the pinned {expected}");
            }
        }
        File.Move(partial, target, overwrite: true);
        return target;
    }

    private static void Validate(HubFile f)
    {
        if (string.IsNullOrWhiteSpace(f.Repo) || f.Repo.Count(c => c == '/') != 1)
            throw new StepDpoException($"hub repo must be 'owner/name', got '{f.Repo}'");
        if (string.IsNullOrWhiteSpace(f.Revision)) throw new StepDpoException($"hub file {f.Repo}/{f.PathInRepo}: a pinned revision is required");
        if (f.PathInRepo.Contains("..")) throw new StepDpoException($"hub path must not contain '..': {f.PathInRepo}");
        if (f.RepoType is not ("datasets" or "models")) throw new StepDpoException($"hub repo type must be datasets or models, got '{f.RepoType}'");
        if (f.Sha256 is { } s && (s.Length != 64 || !s.All(char.IsAsciiHexDigit)))
            throw new StepDpoException($"hub file {f.Repo}/{f.PathInRepo}: sha256 must be 64 hex digits, got '{s}'");
    }

    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
