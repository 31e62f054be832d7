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

/// <summary>No reply came within the request timeout, however many times the request was sent.</summary>
public sealed class ZmqRequestTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="sequence">The request's sequence number.</param>
    /// <param name="attempts">How many times it was sent.</param>
    /// <param name="timeout">The wait for each reply.</param>
    /// <param name="hint">A likely cause to add to the message, if known (for example a CURVE key mismatch).</param>
    public ZmqRequestTimeoutException(long sequence, int attempts, TimeSpan timeout, string? hint = null)
        : base($"No reply to request {sequence} after {attempts} attempt(s) of {timeout.TotalSeconds:0.###} s each." + (hint is null ? string.Empty : " " + hint))
    {
        Sequence = sequence;
        Attempts = attempts;
    }

    /// <summary>Gets the request's sequence number.</summary>
    public long Sequence { get; }

    /// <summary>Gets how many times the request was sent.</summary>
    public int Attempts { get; }
}

/// <summary>A reply did not follow the ZQA1 envelope rules (for example it echoed another sequence number).</summary>
/// <param name="message">What was wrong.</param>
public sealed class ZmqProtocolException(string message) : Exception(message);
