using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace StepDpo.Tests.Hub;

/// <summary>
/// A Hugging Face Hub on loopback with the Hub's paths and headers, for the Hub client tests:
/// GET /api/{models|datasets}/ORG/NAME/revision/REV -> {"id", "sha", "siblings": [{"rfilename"}]};
/// HEAD|GET /[datasets/]ORG/NAME/resolve/REV/PATH -> small files inline with ETag = git blob id and X-Repo-Commit;
/// LFS files (.safetensors, .parquet) as 302 to /cdn/SHA256 with X-Linked-Etag and X-Linked-Size, as the Hub does;
/// GET /cdn/SHA256 honours Range and can drop the connection once mid-transfer (<see cref="CutNextCdnAfter"/>).
/// Gated repositories answer 401 without "Authorization: Bearer TOKEN". Every request is recorded.
/// </summary>
public sealed class FakeHub : IDisposable
{
    public sealed record Request(string Method, string Path, string? Authorization, string? Range);

    sealed class Repo
    {
        public Dictionary<string, string> Refs { get; } = new();
        public Dictionary<string, Dictionary<string, byte[]>> Commits { get; } = new();
        public string? Token { get; init; }
    }

    readonly HttpListener listener = new();
    readonly HttpListener cdnListener = new();
    readonly Dictionary<(string Type, string Name), Repo> repos = new();
    readonly Dictionary<string, byte[]> cdn = new();
    readonly List<Request> requests = [];
    public string Endpoint { get; }
    /// <summary>When set, the next CDN response stops after this many bytes and drops the connection.</summary>
    public int? CutNextCdnAfter { get; set; }

    /// <summary>The file CDN the Hub redirects LFS downloads to: another origin, as cdn-lfs.hf.co is.</summary>
    public string CdnEndpoint { get; }

    public FakeHub()
    {
        Endpoint = $"http://127.0.0.1:{FreePort()}";
        CdnEndpoint = $"http://127.0.0.1:{FreePort()}";
        listener.Prefixes.Add(Endpoint + "/");
        listener.Start();
        cdnListener.Prefixes.Add(CdnEndpoint + "/");
        cdnListener.Start();
        _ = Task.Run(() => ServeAsync(listener));
        _ = Task.Run(() => ServeAsync(cdnListener));
    }

    static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public IReadOnlyList<Request> Requests { get { lock (requests) return requests.ToList(); } }

    /// <summary>Adds a commit of a repository ("models" or "datasets") with these files, pointed at by <paramref name="branch"/>.</summary>
    public string AddCommit(string type, string name, IReadOnlyDictionary<string, byte[]> files, string branch = "main", string? token = null)
    {
        if (!repos.TryGetValue((type, name), out var repo)) repos[(type, name)] = repo = new Repo { Token = token };
        string commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{name}:{repo.Commits.Count}:{files.Count}")));
        repo.Commits[commit] = files.ToDictionary(f => f.Key, f => f.Value);
        repo.Refs[branch] = commit;
        foreach (var bytes in files.Values) cdn[Sha256(bytes)] = bytes;
        return commit;
    }

    public static bool IsLfs(string path) => path.EndsWith(".safetensors") || path.EndsWith(".parquet");
    public static string Sha256(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));
    /// <summary>The git blob id, which the Hub gives as the ETag of a file kept in git.</summary>
    public static string GitBlobId(byte[] b) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {b.Length}\0"), .. b]));

    async Task ServeAsync(HttpListener on)
    {
        while (on.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await on.GetContextAsync(); } catch { return; }
            _ = Task.Run(() => Handle(ctx));
        }
    }

    async Task Handle(HttpListenerContext ctx)
    {
        var req = ctx.Request;
        var res = ctx.Response;
        string path = Uri.UnescapeDataString(req.Url!.AbsolutePath);
        lock (requests) requests.Add(new Request(req.HttpMethod, path, req.Headers["Authorization"], req.Headers["Range"]));
        try
        {
            var parts = path.Trim('/').Split('/');
            if (parts[0] == "cdn") { await Cdn(res, parts[1], req.Headers["Range"]); return; }
            if (parts[0] == "api" && parts.Length >= 6 && parts[4] == "revision")
            {
                var (repo, commit) = Find(parts[1], $"{parts[2]}/{parts[3]}", string.Join('/', parts[5..]), req, res);
                if (repo is null) return;
                var body = JsonSerializer.Serialize(new { id = $"{parts[2]}/{parts[3]}", sha = commit,
                    siblings = repo.Commits[commit!].Keys.Select(k => new { rfilename = k }) });
                await Write(res, 200, Encoding.UTF8.GetBytes(body), "application/json");
                return;
            }
            int at = parts[0] == "datasets" ? 1 : 0;
            if (parts.Length >= at + 5 && parts[at + 2] == "resolve")
            {
                string type = at == 1 ? "datasets" : "models";
                var (repo, commit) = Find(type, $"{parts[at]}/{parts[at + 1]}", parts[at + 3], req, res);
                if (repo is null) return;
                string file = string.Join('/', parts[(at + 4)..]);
                if (!repo.Commits[commit!].TryGetValue(file, out var bytes)) { await Write(res, 404, "Entry not found"u8.ToArray()); return; }
                res.Headers["X-Repo-Commit"] = commit;
                if (IsLfs(file))
                {
                    res.Headers["X-Linked-Etag"] = $"\"{Sha256(bytes)}\"";
                    res.Headers["X-Linked-Size"] = bytes.Length.ToString();
                    res.Headers["ETag"] = $"\"{GitBlobId(bytes)}\"";
                    res.StatusCode = 302;
                    res.RedirectLocation = $"{CdnEndpoint}/cdn/{Sha256(bytes)}";
                    res.Close();
                    return;
                }
                res.Headers["ETag"] = $"\"{GitBlobId(bytes)}\"";
                if (req.HttpMethod == "HEAD") { res.ContentLength64 = bytes.Length; res.Close(); return; }
                await Write(res, 200, bytes);
                return;
            }
            await Write(res, 404, "not a Hub path"u8.ToArray());
        }
        catch (HttpListenerException) { }
        catch (ObjectDisposedException) { }
    }

    (Repo? Repo, string? Commit) Find(string type, string name, string revision, HttpListenerRequest req, HttpListenerResponse res)
    {
        if (!repos.TryGetValue((type, name), out var repo))
        {
            _ = Write(res, 404, """{"error":"Repository not found"}"""u8.ToArray(), "application/json");
            return (null, null);
        }
        if (repo.Token is { } token && req.Headers["Authorization"] != $"Bearer {token}")
        {
            _ = Write(res, 401, """{"error":"Access to this repository is restricted"}"""u8.ToArray(), "application/json");
            return (null, null);
        }
        string? commit = repo.Commits.ContainsKey(revision) ? revision : repo.Refs.GetValueOrDefault(revision);
        if (commit is null)
        {
            _ = Write(res, 404, """{"error":"Invalid rev id"}"""u8.ToArray(), "application/json");
            return (null, null);
        }
        return (repo, commit);
    }

    async Task Cdn(HttpListenerResponse res, string sha, string? range)
    {
        if (!cdn.TryGetValue(sha, out var bytes)) { await Write(res, 404, []); return; }
        int from = range is not null && range.StartsWith("bytes=") ? int.Parse(range[6..].TrimEnd('-')) : 0;
        if (from >= bytes.Length) { res.StatusCode = 416; res.Close(); return; }
        res.StatusCode = from > 0 ? 206 : 200;
        res.ContentLength64 = bytes.Length - from;
        if (CutNextCdnAfter is { } cut && from == 0)
        {
            CutNextCdnAfter = null;
            await res.OutputStream.WriteAsync(bytes.AsMemory(0, cut));
            await res.OutputStream.FlushAsync();
            res.Abort();
            return;
        }
        await res.OutputStream.WriteAsync(bytes.AsMemory(from));
        res.Close();
    }

    static async Task Write(HttpListenerResponse res, int status, byte[] body, string type = "text/plain")
    {
        res.StatusCode = status;
        res.ContentType = type;
        res.ContentLength64 = body.Length;
        await res.OutputStream.WriteAsync(body);
        res.Close();
    }

    bool disposed;

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var l in new[] { listener, cdnListener }) { l.Stop(); l.Close(); }
    }
}
