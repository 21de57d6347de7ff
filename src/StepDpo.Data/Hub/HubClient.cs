using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Data.Hub;

/// <summary>Where the Hub is and who asks: $HF_ENDPOINT (default https://huggingface.co), the token of $HF_TOKEN (sent as
/// Authorization: Bearer, to the Hub only, never to the file CDN it redirects to), and $HF_HUB_OFFLINE=1 (no network).</summary>
public sealed record HubOptions(string Endpoint, string? Token, bool Offline)
{
    public static HubOptions FromEnvironment() => new(
        Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } e ? e.TrimEnd('/') : "https://huggingface.co",
        Secrets.HubToken,
        Environment.GetEnvironmentVariable("HF_HUB_OFFLINE") is "1" or "true" or "TRUE" or "yes");

    public override string ToString() => $"{Endpoint}{(Token is null ? "" : " (with HF_TOKEN)")}"; // never the token itself
}

/// <summary>A repository at a commit and the files it holds (the Hub's siblings list).</summary>
public sealed record HubRepoInfo(string Commit, IReadOnlyList<string> Files);

/// <summary>
/// The Hub's HTTP API as huggingface_hub uses it: GET /api/{models|datasets}/REPO/revision/REV for the commit a
/// revision points at and the file list; HEAD /[datasets/]REPO/resolve/COMMIT/PATH (redirects not followed) for the
/// file's ETag (X-Linked-Etag, the sha256, for LFS files; the git blob id otherwise) and size; GET of the same URL,
/// following the redirect to the CDN, with a Range request to resume an .incomplete blob.
/// </summary>
public sealed class HubClient : IDisposable
{
    readonly HttpClient http;
    readonly Uri endpoint;
    public HubOptions Options { get; }

    public HubClient(HubOptions options, TimeSpan? timeout = null)
    {
        Options = options;
        endpoint = new Uri(options.Endpoint.TrimEnd('/') + "/");
        http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None })
            { Timeout = timeout ?? TimeSpan.FromMinutes(30) };
    }

    public void Dispose() => http.Dispose();

    public async Task<HubRepoInfo> InfoAsync(HubId id, CancellationToken ct = default)
    {
        var url = new Uri(endpoint, $"api/{id.TypePlural}/{id.Repo}/revision/{Uri.EscapeDataString(id.Revision)}");
        using var response = await SendAsync(HttpMethod.Get, url, null, ct);
        await EnsureOk(response, id, "");
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        string commit = doc.RootElement.TryGetProperty("sha", out var sha) ? sha.GetString() ?? "" : "";
        if (!HubId.IsCommit(commit)) throw new StepDpoException($"hub {id}: the API gave no commit for revision '{id.Revision}' ({Options})");
        var files = doc.RootElement.TryGetProperty("siblings", out var s)
            ? s.EnumerateArray().Select(f => f.GetProperty("rfilename").GetString()!).ToList() : [];
        return new HubRepoInfo(commit, files);
    }

    public Uri ResolveUrl(HubId id, string commit, string path) =>
        new(endpoint, $"{(id.Type == HubRepoType.Dataset ? "datasets/" : "")}{id.Repo}/resolve/{commit}/" +
                      string.Join('/', path.Split('/').Select(Uri.EscapeDataString)));

    /// <summary>The file's ETag (quotes and W/ removed) and size, from the Hub's own answer to HEAD.</summary>
    public async Task<(string Etag, long? Size)> HeadAsync(HubId id, string commit, string path, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Head, ResolveUrl(id, commit, path), null, ct);
        if ((int)response.StatusCode is >= 300 and < 400 || response.IsSuccessStatusCode)
        {
            string? etag = Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.Tag ?? Header(response, "ETag");
            if (etag is null) throw new StepDpoException($"hub {id}: no ETag for {path} ({Options})");
            etag = etag.Replace("W/", "").Trim('"');
            long? size = long.TryParse(Header(response, "X-Linked-Size"), out long linked) ? linked : response.Content.Headers.ContentLength;
            return (etag, size);
        }
        await EnsureOk(response, id, path);
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>Downloads into <paramref name="blob"/>.incomplete (resuming what is there with Range), checks the size and,
    /// for an LFS etag (a sha256), the content; then renames it to <paramref name="blob"/>.</summary>
    public async Task DownloadAsync(HubId id, string commit, string path, string etag, long? size, string blob, CancellationToken ct = default)
    {
        string incomplete = blob + ".incomplete";
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
        if (size is null || have < size)
        {
            using var response = await SendAsync(HttpMethod.Get, ResolveUrl(id, commit, path), have > 0 ? have : null, ct);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0) { }
            else
            {
                await EnsureOk(response, id, path);
                bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
                await using var source = await response.Content.ReadAsStreamAsync(ct);
                await using var sink = new FileStream(incomplete, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write);
                await source.CopyToAsync(sink, ct);
            }
        }
        long got = new FileInfo(incomplete).Length;
        if (size is { } expected && got != expected)
            throw new StepDpoException($"hub {id}: {path}: got {got} of {expected} bytes (kept as .incomplete; rerun to resume)");
        if (etag.Length == 64 && etag.All(char.IsAsciiHexDigitLower))
        {
            await using var stream = File.OpenRead(incomplete);
            string actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
            if (actual != etag)
            {
                stream.Close();
                File.Delete(incomplete);
                throw new StepDpoException($"hub {id}: {path}: sha256 {actual} is not the Hub's {etag}; removed, rerun to fetch it again");
            }
        }
        File.Move(incomplete, blob, overwrite: true);
    }

    /// <summary>One request, following up to 5 redirects by hand: the token goes only to the Hub's own host.</summary>
    async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, long? from, CancellationToken ct)
    {
        if (Options.Offline) throw new StepDpoException($"HF_HUB_OFFLINE is set: {url.GetLeftPart(UriPartial.Path)} is not in the Hub cache");
        for (int hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, url);
            if (Options.Token is { } token && url.Host == endpoint.Host && url.Port == endpoint.Port)
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (from is { } f) request.Headers.Range = new RangeHeaderValue(f, null);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            HttpResponseMessage response;
            try { response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct); }
            catch (HttpRequestException e)
            {
                throw new StepDpoException($"hub request {url.GetLeftPart(UriPartial.Path)} failed: {Secrets.Redact(e.Message)} " +
                    "(offline? partial downloads are kept and resume next time)", e);
            }
            bool redirect = (int)response.StatusCode is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is not null;
            if (!redirect || method == HttpMethod.Head || hop >= 5) return response;
            url = response.Headers.Location!.IsAbsoluteUri ? response.Headers.Location : new Uri(url, response.Headers.Location);
            response.Dispose();
        }
    }

    async Task EnsureOk(HttpResponseMessage response, HubId id, string path)
    {
        if (response.IsSuccessStatusCode) return;
        string what = path.Length > 0 ? $"{id.Repo}/{path} at {id.Revision}" : $"{id.Repo} at {id.Revision}";
        string body = Secrets.Redact((await response.Content.ReadAsStringAsync()).Trim());
        if (body.Length > 200) body = body[..200] + "...";
        throw (int)response.StatusCode switch
        {
            401 or 403 => new StepDpoException($"hub {id.TypePlural[..^1]} {what}: HTTP {(int)response.StatusCode}: gated or private; " +
                (Options.Token is null ? "set HF_TOKEN to a token with access" : "the token in HF_TOKEN has no access to it (accept the terms on its page?)")),
            404 => new StepDpoException($"hub {id.TypePlural[..^1]} {what}: not found (HTTP 404 from {Options.Endpoint}) {body}".TrimEnd()),
            _ => new StepDpoException($"hub {id.TypePlural[..^1]} {what}: HTTP {(int)response.StatusCode} {response.ReasonPhrase} {body}".TrimEnd()),
        };
    }

    static string? Header(HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() : r.Content.Headers.TryGetValues(name, out var c) ? c.FirstOrDefault() : null;
}
