using System.Net.Http.Json;
using System.Text.Json;

namespace ZmqAspire.Dashboard.Tests;

/// <summary>
/// The dashboard's telemetry HTTP API (<c>/api/telemetry/...</c>, OTLP JSON, <c>x-api-key</c>
/// authentication): what the dashboard actually received over OTLP.
/// </summary>
public sealed class TelemetryApi(Uri dashboard, string apiKey) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = dashboard, DefaultRequestHeaders = { { "x-api-key", apiKey } } };

    /// <summary>Gets the spans of one trace (empty while the trace is unknown).</summary>
    public async Task<List<Span>> TraceAsync(string traceId)
    {
        using var response = await _http.GetAsync(new Uri($"/api/telemetry/traces/{traceId}", UriKind.Relative));
        return response.StatusCode == System.Net.HttpStatusCode.NotFound ? [] : Parse(await ReadAsync(response));
    }

    /// <summary>Gets the most recent spans of a resource (empty while the resource sent none).</summary>
    public async Task<List<Span>> SpansAsync(string resource, int limit = 500)
    {
        using var response = await _http.GetAsync(new Uri($"/api/telemetry/spans?resource={resource}&limit={limit}", UriKind.Relative));
        // 404: the dashboard has no telemetry from that resource yet.
        return response.StatusCode == System.Net.HttpStatusCode.NotFound ? [] : Parse(await ReadAsync(response));
    }

    /// <summary>Gets the resources that sent telemetry, with what they sent.</summary>
    public async Task<JsonElement> ResourcesAsync() =>
        await _http.GetFromJsonAsync<JsonElement>(new Uri("/api/telemetry/resources", UriKind.Relative));

    /// <summary>Polls <paramref name="query"/> until <paramref name="done"/> holds; returns the last answer.</summary>
    public static async Task<T> PollAsync<T>(Func<Task<T>> query, Func<T, bool> done, TimeSpan timeout)
    {
        // The SDK's batch exporters send every few seconds: a span shows up a little after it ends.
        using var cts = new CancellationTokenSource(timeout);
        var last = await query();
        while (!done(last) && !cts.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), CancellationToken.None);
            last = await query();
        }

        return last;
    }

    public void Dispose() => _http.Dispose();

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} from {response.RequestMessage?.RequestUri}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static List<Span> Parse(JsonElement answer)
    {
        var spans = new List<Span>();
        foreach (var resourceSpans in answer.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            var service = Attributes(resourceSpans.GetProperty("resource")).GetValueOrDefault("service.name");
            foreach (var scopeSpans in resourceSpans.GetProperty("scopeSpans").EnumerateArray())
            {
                var scope = scopeSpans.GetProperty("scope").GetProperty("name").GetString();
                foreach (var span in scopeSpans.GetProperty("spans").EnumerateArray())
                {
                    spans.Add(new Span(
                        service,
                        scope,
                        span.GetProperty("name").GetString()!,
                        span.GetProperty("kind").GetInt32(),
                        span.GetProperty("traceId").GetString()!,
                        span.GetProperty("spanId").GetString()!,
                        span.TryGetProperty("parentSpanId", out var parent) ? parent.GetString() : null,
                        span.TryGetProperty("status", out var status) && status.TryGetProperty("code", out var code) ? code.GetInt32() : 0,
                        Attributes(span)));
                }
            }
        }

        return spans;
    }

    // OTLP JSON attributes: [{ "key": k, "value": { "stringValue" | "intValue" | ...: v } }], read as text.
    private static Dictionary<string, string?> Attributes(JsonElement owner) =>
        owner.TryGetProperty("attributes", out var attributes)
            ? attributes.EnumerateArray().ToDictionary(
                a => a.GetProperty("key").GetString()!,
                a => a.GetProperty("value").EnumerateObject().Select(v => v.Value.ValueKind == JsonValueKind.String ? v.Value.GetString() : v.Value.GetRawText()).FirstOrDefault())
            : [];
}

/// <summary>One span as the dashboard returns it.</summary>
/// <param name="Service">The resource's <c>service.name</c>.</param>
/// <param name="Scope">The instrumentation scope (ActivitySource) name.</param>
/// <param name="Name">The span name.</param>
/// <param name="Kind">OTLP span kind: 2 SERVER, 3 CLIENT.</param>
/// <param name="TraceId">The trace id, hex.</param>
/// <param name="SpanId">The span id, hex.</param>
/// <param name="ParentSpanId">The parent span id, hex, or null/empty for a root.</param>
/// <param name="StatusCode">OTLP status: 0 unset, 1 ok, 2 error.</param>
/// <param name="Attributes">The span's attributes, as text.</param>
public sealed record Span(
    string? Service, string? Scope, string Name, int Kind, string TraceId, string SpanId, string? ParentSpanId, int StatusCode, Dictionary<string, string?> Attributes)
{
    public const int ServerKind = 2;
    public const int ClientKind = 3;
}
