using System.Net.Http.Headers;
using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Tests.Backends;

public class OpenAiWireTests
{
    [Fact]
    public void Parses_vllm_logprobs_and_keeps_a_null_as_nan()
    {
        const string body = """
            {"id":"cmpl-1","object":"text_completion","model":"m","choices":[
              {"index":0,"text":" 2","logprobs":{"tokens":[" 2","<eos>"],"token_logprobs":[-0.25,null],"top_logprobs":null,"text_offset":[0,2]},
               "finish_reason":"length","stop_reason":null}],
             "usage":{"prompt_tokens":5,"total_tokens":7,"completion_tokens":2}}
            """;
        var c = Assert.Single(OpenAiWire.ParseResponse(body, OpenAiApi.Completions, 1, wantLogprobs: true));
        Assert.Equal((" 2", "length"), (c.Text, c.FinishReason));
        Assert.Equal(-0.25, c.TokenLogprobs![0]);
        Assert.True(double.IsNaN(c.TokenLogprobs[1]));
    }

    [Theory]
    [InlineData("""{"choices":[{"index":0,"text":"a"},{"index":0,"text":"b"}]}""", "repeated")]
    [InlineData("""{"choices":[{"index":0,"text":"a"},{"index":5,"text":"b"}]}""", "out of range")]
    [InlineData("""{"choices":[{"index":0,"text":"a"}]}""", "expected 2 choices")]
    [InlineData("""{"choices":[{"index":0},{"index":1,"text":"b"}]}""", "no text")]
    [InlineData("""{"object":"error"}""", "no 'choices'")]
    [InlineData("""<html>502 Bad Gateway</html>""", "not JSON")]
    public void Rejects_bodies_without_the_promised_shape(string body, string reason)
    {
        var e = Assert.Throws<MalformedResponseException>(() => OpenAiWire.ParseResponse(body, OpenAiApi.Completions, 2, false));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Request_body_omits_what_was_not_asked_for()
    {
        var o = new OpenAiOptions { BaseUrl = new Uri("http://h:1"), Model = "m" };
        var body = OpenAiWire.RequestBody(o, new CompletionRequest("p", 2, 0, 1, 8, [], null));
        Assert.Equal("""{"model":"m","prompt":"p","n":2,"temperature":0,"top_p":1,"max_tokens":8}""", body);
        var withAll = OpenAiWire.RequestBody(o with { Logprobs = 1 }, new CompletionRequest("p", 1, 0.5, 0.9, 8, ["x"], 3));
        Assert.Equal("""{"model":"m","prompt":"p","n":1,"temperature":0.5,"top_p":0.9,"max_tokens":8,"stop":["x"],"seed":3,"logprobs":1}""", withAll);
    }

    [Fact]
    public void Retry_after_is_read_in_milliseconds_seconds_or_as_a_date()
    {
        var now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        HttpResponseHeaders Headers(string name, string value)
        {
            var h = new HttpResponseMessage().Headers;
            h.TryAddWithoutValidation(name, value);
            return h;
        }
        Assert.Equal(TimeSpan.FromMilliseconds(250), Backoff.RetryAfter(Headers("retry-after-ms", "250"), now));
        Assert.Equal(TimeSpan.FromSeconds(3), Backoff.RetryAfter(Headers("Retry-After", "3"), now));
        Assert.Equal(TimeSpan.FromSeconds(30), Backoff.RetryAfter(Headers("Retry-After", "Thu, 01 Jan 2026 00:00:30 GMT"), now));
        Assert.Null(Backoff.RetryAfter(Headers("X-Other", "1"), now));
    }

    [Fact]
    public void Backoff_is_full_jitter_under_a_doubling_cap()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(1000), TimeSpan.FromSeconds(5), seed: 3);
        for (var retry = 1; retry <= 8; retry++)
        {
            var cap = Math.Min(100 * Math.Pow(2, retry - 1), 1000);
            var draws = Enumerable.Range(0, 200).Select(_ => backoff.Delay(retry, null).TotalMilliseconds).ToArray();
            Assert.All(draws, d => Assert.InRange(d, 0, cap));
            Assert.InRange(draws.Average(), cap * 0.4, cap * 0.6);   // uniform over [0, cap]
        }
        Assert.Equal(TimeSpan.FromSeconds(5), backoff.Delay(1, TimeSpan.FromMinutes(10)));
    }
}
