using System.Security.Cryptography;
using StepDpo.Core;

namespace StepDpo.Data.Hub;

/// <summary>One file of a Hub data set (hf://owner/name@revision/path[#sha256]), optionally with the sha256 it must have.</summary>
public sealed record HubFile(string Repo, string Revision, string PathInRepo, string? Sha256 = null)
{
    /// <summary>The local path of the file in the Hub cache, downloading (or resuming) it if needed; a pinned sha256
    /// that the bytes do not match is an error.</summary>
    public async Task<string> GetAsync(HubCache cache, HubClient client, CancellationToken ct = default)
    {
        if (PathInRepo.Split('/').Contains("..")) throw new StepDpoException($"hub path must not contain '..': {PathInRepo}");
        if (Sha256 is { } s && (s.Length != 64 || !s.All(char.IsAsciiHexDigit)))
            throw new StepDpoException($"hub file {Repo}/{PathInRepo}: sha256 must be 64 hex digits, got '{s}'");
        var id = new HubId(Repo, Revision, HubRepoType.Dataset);
        string? commit = cache.LocalCommit(id);
        if (commit is null || !File.Exists(cache.FilePath(id, commit, PathInRepo)))
        {
            if (commit is null)
            {
                commit = (await client.InfoAsync(id, ct)).Commit;
                cache.WriteRef(id, commit);
            }
            var (etag, size) = await client.HeadAsync(id, commit, PathInRepo, ct);
            string blob = cache.BlobPath(id, etag);
            if (!File.Exists(blob)) await client.DownloadAsync(id, commit, PathInRepo, etag, size, blob, ct);
            cache.Link(id, commit, PathInRepo, etag);
        }
        string path = cache.FilePath(id, commit, PathInRepo);
        if (Sha256 is { } expected)
        {
            await using var stream = File.OpenRead(path);
            string actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
            if (actual != expected.ToLowerInvariant())
                throw new StepDpoException($"hub file {Repo}/{PathInRepo}@{Revision}: sha256 {actual} does not match the pinned {expected}");
        }
        return path;
    }
}
