namespace ZmqAspire.Messaging;

/// <summary>No reply came within the request timeout, however many times the request was sent.</summary>
/// <remarks>The standard constructors (for tests and wrappers) leave <see cref="Sequence"/> and <see cref="Attempts"/> 0.</remarks>
public sealed class ZmqRequestTimeoutException : TimeoutException
{
    /// <summary>Creates the exception with a default message.</summary>
    public ZmqRequestTimeoutException()
        : base("No reply came within the request timeout.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">Which request got no reply, and how often it was sent.</param>
    public ZmqRequestTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    /// <param name="message">Which request got no reply, and how often it was sent.</param>
    /// <param name="innerException">The error underneath, if any.</param>
    public ZmqRequestTimeoutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

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

    /// <summary>Gets the request's sequence number (0 only after a standard constructor).</summary>
    public long Sequence { get; }

    /// <summary>Gets how many times the request was sent (0 only after a standard constructor).</summary>
    public int Attempts { get; }
}

/// <summary>A reply did not follow the ZQA1 envelope rules (for example it echoed another sequence number).</summary>
public sealed class ZmqProtocolException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public ZmqProtocolException()
        : base("A reply did not follow the ZQA1 envelope rules.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was wrong.</param>
    public ZmqProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the error underneath.</summary>
    /// <param name="message">What was wrong.</param>
    /// <param name="innerException">The error underneath, if any (a frame that did not parse, say).</param>
    public ZmqProtocolException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
