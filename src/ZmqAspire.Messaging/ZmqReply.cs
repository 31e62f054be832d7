namespace ZmqAspire.Messaging;

/// <summary>A reply a <see cref="ZmqRequester"/> received.</summary>
/// <param name="Body">The reply body (the last frame).</param>
/// <param name="Sequence">The request's sequence number.</param>
/// <param name="RetryCount">How many times the request was sent again before this reply came.</param>
/// <param name="Duration">From the first send to the reply.</param>
/// <param name="TraceId">The client span's W3C trace id, when the request was traced.</param>
public sealed record ZmqReply(byte[] Body, long Sequence, int RetryCount, TimeSpan Duration, string? TraceId)
{
    /// <summary>Gets the body as UTF-8 text.</summary>
    public string BodyText => System.Text.Encoding.UTF8.GetString(Body);
}
