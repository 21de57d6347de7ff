using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using StepDpo.Core;
using StepDpo.Data;

namespace StepDpo.Data.Tests;

/// <summary>The downloader against a real HTTP server on loopback that can cut a transfer short
/// and honours Range requests, as the hub's CDN does.</summary>
public sealed class HubDownloaderTests : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _endpoint;
    private readonly byte[] _payload = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7 % 251)).ToArray();
    private readonly List<string?> _ranges = [];
    private int _requests;
    /// <summary>When set, the next full response stops after this many bytes and drops the connection.</summary>
    private int? _cutAfter;
    private readonly Fixture.TempDir _tmp = new();

    public HubDownloaderTests()
    {
        int port = FreePort();
        _endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(_endpoint + "/");
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); } catch { return; }
            Interlocked.Increment(ref _requests);
            var res = ctx.Response;
            if (ctx.Request.Url!.AbsolutePath == "/datasets/owner/set/resolve/abc123/gsm8k.jsonl")
            {
                await res.OutputStream.WriteAsync(Gsm8kBytes);
                res.Close();
                continue;
            }
            if (ctx.Request.Url!.AbsolutePath != "/datasets/owner/set/resolve/abc123/data/test.jsonl")
            {
                res.StatusCode = 404;
                res.Close();
                continue;
            }
            var range = ctx.Request.Headers["Range"];
            lock (_ranges) _ranges.Add(range);
            int from = 0;
            if (range is not null && range.StartsWith("bytes=")) from = int.Parse(range[6..].TrimEnd('-'));
            if (from >= _payload.Length) { res.StatusCode = 416; res.Close(); continue; }
            res.StatusCode = from > 0 ? 206 : 200;
            res.ContentLength64 = _payload.Length - from;
            try
            {
                if (_cutAfter is { } cut && from == 0)
                {
                    _cutAfter = null;
                    await res.OutputStream.WriteAsync(_payload.AsMemory(0, cut));
                    await res.OutputStream.FlushAsync();
                    res.Abort(); // connection dropped mid-transfer
                    continue;
                }
                await res.OutputStream.WriteAsync(_payload.AsMemory(from));
                res.Close();
            }
            catch (HttpListenerException) { }
        }
    }

    private string Sha => Convert.ToHexStringLower(SHA256.HashData(_payload));
    private HubDownloader Downloader(HttpClient http) => new(http, _tmp.Root, _endpoint);
    private HubFile File(string? sha) => new("owner/set", "abc123", "data/test.jsonl", sha);

    [Fact]
    public async Task DownloadsVerifiesAndCaches()
    {
        using var http = new HttpClient();
        var d = Downloader(http);
        var path = await d.DownloadAsync(File(Sha));
        Assert.Equal(_payload, await System.IO.File.ReadAllBytesAsync(path));
        int before = _requests;
        Assert.Equal(path, await d.DownloadAsync(File(Sha)));
        Assert.Equal(before, _requests); // served from the cache
    }

    [Fact]
    public async Task ResumesAnInterruptedDownloadWithRange()
    {
        _cutAfter = 30_000;
        using var http = new HttpClient();
        var d = Downloader(http);
        await Assert.ThrowsAnyAsync<Exception>(() => d.DownloadAsync(File(Sha)));
        var partial = d.CachePathOf(File(Sha)) + ".part";
        Assert.True(System.IO.File.Exists(partial));
        long have = new FileInfo(partial).Length;
        Assert.InRange(have, 1, _payload.Length - 1);

        var path = await d.DownloadAsync(File(Sha));
        Assert.Equal(_payload, await System.IO.File.ReadAllBytesAsync(path));
        Assert.Contains($"bytes={have}-", _ranges);
        Assert.False(System.IO.File.Exists(partial));
    }

    [Fact]
    public async Task WrongHashIsRejectedAndNotCached()
    {
        using var http = new HttpClient();
        var d = Downloader(http);
        var wrong = new string('0', 64);
        var e = await Assert.ThrowsAsync<StepDpoException>(() => d.DownloadAsync(File(wrong)));
        Assert.Contains("does not match the pinned", e.Message);
        Assert.False(System.IO.File.Exists(d.CachePathOf(File(wrong))));
    }

    [Fact]
    public async Task BadRequestsFailClearly()
    {
        using var http = new HttpClient();
        var d = Downloader(http);
        var e = await Assert.ThrowsAsync<StepDpoException>(() => d.DownloadAsync(new HubFile("owner/set", "abc123", "missing.jsonl")));
        Assert.Contains("HTTP 404", e.Message);
        await Assert.ThrowsAsync<StepDpoException>(() => d.DownloadAsync(new HubFile("owner/set", "", "x")));
        await Assert.ThrowsAsync<StepDpoException>(() => d.DownloadAsync(new HubFile("noslash", "abc", "x")));
        await Assert.ThrowsAsync<StepDpoException>(() => d.DownloadAsync(new HubFile("owner/set", "abc", "x", "beef")));
    }

    private static readonly byte[] Gsm8kBytes = System.Text.Encoding.UTF8.GetBytes(
        "{\"question\": \"1+1?\", \"answer\": \"1+1=2\\n#### 2\"}\n{\"question\": \"2+2?\", \"answer\": \"#### 4\"}\n");

    [Fact]
    public void DataSourcesLoadFromTheHubThroughTheCache()
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(Gsm8kBytes));
        var saved = (Environment.GetEnvironmentVariable("HF_ENDPOINT"), Environment.GetEnvironmentVariable("STEPDPO_CACHE"));
        try
        {
            Environment.SetEnvironmentVariable("HF_ENDPOINT", _endpoint);
            Environment.SetEnvironmentVariable("STEPDPO_CACHE", _tmp.Root);
            var spec = new DataSpec("gsm8k", $"hf://owner/set@abc123/gsm8k.jsonl#{sha}");
            Assert.Equal(["2", "4"], DataSources.Load(spec).Select(p => p.Answer));
            Assert.StartsWith(_tmp.Root, DataSources.ResolvePath(spec));
            Assert.Throws<StepDpoException>(() => DataSources.ParseHubPath("hf://owner/set/gsm8k.jsonl"));
            Assert.Equal(new HubFile("a/b", "rev", "x/y.jsonl", null), DataSources.ParseHubPath("hf://a/b@rev/x/y.jsonl"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_ENDPOINT", saved.Item1);
            Environment.SetEnvironmentVariable("STEPDPO_CACHE", saved.Item2);
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _tmp.Dispose();
    }
}
