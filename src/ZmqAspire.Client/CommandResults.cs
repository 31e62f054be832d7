using System.Text.Json;
using System.Text.Json.Serialization;

namespace ZmqAspire.Client;

/// <summary>The body of a <c>POST /commands/send-request</c> answer: the reply to the one request sent.</summary>
/// <param name="Sequence">The request's sequence number.</param>
/// <param name="Reply">The reply's text.</param>
/// <param name="Retries">How many times the request was resent before the reply came (Lazy Pirate).</param>
/// <param name="DurationMs">The round trip, in milliseconds.</param>
/// <param name="TraceId">The request's W3C trace id, to find it under Traces.</param>
public sealed record SendRequestResult(long Sequence, string Reply, int Retries, double DurationMs, string? TraceId);

/// <summary>The body of a <c>202 Accepted</c> command answer.</summary>
/// <param name="Message">What was started.</param>
public sealed record CommandAccepted(string Message);

/// <summary>
/// Serialization of the command answers by the System.Text.Json source generator: the client
/// is published trimmed, where reflection-based serialization is off (an anonymous type fails,
/// and so did the ProblemDetails of <c>Results.Problem</c> until this context was registered in
/// Program.cs).
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SendRequestResult))]
[JsonSerializable(typeof(CommandAccepted))]
[JsonSerializable(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails))]
internal sealed partial class CommandJsonContext : JsonSerializerContext;
