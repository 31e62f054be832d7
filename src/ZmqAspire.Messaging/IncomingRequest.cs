using System.Diagnostics;
using System.Text;
using NetMQ;

namespace ZmqAspire.Messaging;

/// <summary>A request a <see cref="ZmqResponder"/> accepted: its body, and the means to reply in the same form.</summary>
public sealed class IncomingRequest : IDisposable
{
    private readonly ZmqResponderOptions _options;
    private readonly EnvelopeHeader? _header;
    private readonly long _started = Stopwatch.GetTimestamp();
    private string? _errorType;
    private byte[]? _cachedReply;
    private bool _disposed;

    internal IncomingRequest(ZmqResponderOptions options, Activity? activity, EnvelopeHeader? header, byte[] body, string format)
    {
        _options = options;
        Activity = activity;
        _header = header;
        Body = body;
        Format = format;
        MessagingInstruments.ServerRequests.Add(1, Tags(errorType: null));
    }

    /// <summary>Gets the SERVER span, or <see langword="null"/> when nothing listens.</summary>
    public Activity? Activity { get; }

    /// <summary>Gets the request body (the last frame).</summary>
    public byte[] Body { get; }

    /// <summary>Gets the body as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>Gets a value indicating whether the request came in a ZQA1 envelope.</summary>
    public bool IsEnveloped => _header is not null;

    /// <summary>Gets <c>envelope</c> or <c>plain</c>.</summary>
    public string Format { get; }

    /// <summary>Gets the request's sequence number from the envelope, if any.</summary>
    public long? Sequence => _header?.Sequence;

    /// <summary>Gets the client's id from the envelope, if any.</summary>
    public string? ClientId => _header?.ClientId;

    /// <summary>
    /// Builds the reply: plain (<c>[body]</c>) to a plain request, enveloped
    /// (<c>[ZQA1 header echoing seq, body]</c>) to an enveloped one.
    /// </summary>
    /// <param name="body">The reply body, UTF-8 encoded.</param>
    /// <returns>The message to send on the REP socket.</returns>
    /// <remarks>With a <see cref="ZmqResponderOptions.ReplyCache"/>, the reply to an enveloped request that
    /// carries <c>client-id</c> and <c>seq</c> is kept there, for a repeat of the request.</remarks>
    public NetMQMessage CreateReply(string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var bytes = Encoding.UTF8.GetBytes(body);
        if (_options.ReplyCache is { } cache && _header is { ClientId: { } clientId, Sequence: { } sequence })
        {
            cache.Add(clientId, sequence, Body, bytes);
        }

        return Build(bytes);
    }

    internal void LookUpCachedReply()
    {
        if (_options.ReplyCache is { } cache && _header is { ClientId: { } clientId, Sequence: { } sequence }
            && cache.TryGet(clientId, sequence, Body, out var cached))
        {
            _cachedReply = cached;
        }
    }

    private NetMQMessage Build(byte[] body)
    {
        var reply = new NetMQMessage();
        if (_header is not null)
        {
            reply.Append(new EnvelopeHeader { Sequence = _header.Sequence }.ToFrame());
        }

        reply.Append(body);
        var size = MessagingInstruments.Size(reply);
        Activity?.SetTag(TelemetryAttributes.ResponseSize, size);
        MessagingInstruments.ServerIo.Add(size, MessagingInstruments.IoTags("transmit"));
        return reply;
    }

    /// <summary>
    /// Gets the reply already sent for this request when it is a repeat (same <c>client-id</c>,
    /// <c>seq</c> and body as one served before, still in <see cref="ZmqResponderOptions.ReplyCache"/>):
    /// send that instead of doing the work again.
    /// </summary>
    /// <param name="reply">The reply to send, in the request's form; <see langword="null"/> when there is none.</param>
    /// <returns><see langword="true"/> when the request is a repeat and <paramref name="reply"/> answers it.</returns>
    public bool TryCreateCachedReply([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NetMQMessage? reply)
    {
        if (_cachedReply is null)
        {
            reply = null;
            return false;
        }

        MessagingInstruments.ServerReplyCacheHits.Add(1, Tags(errorType: null));
        Activity?.SetTag(TelemetryAttributes.ReplyCacheHit, true);
        reply = Build(_cachedReply);
        return true;
    }

    /// <summary>Records that the request failed: span status Error, the exception as a span event.</summary>
    /// <param name="exception">What went wrong.</param>
    public void Fail(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        MarkError(exception.GetType().FullName ?? exception.GetType().Name, exception.Message);
        Activity?.AddException(exception);
    }

    /// <summary>Ends the span and records the duration (and the error, if any).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var tags = Tags(_errorType);
        if (_errorType is not null)
        {
            MessagingInstruments.ServerErrors.Add(1, tags);
        }

        MessagingInstruments.ServerDuration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, tags);
        Activity?.Dispose();
    }

    internal void MarkError(string errorType, string description)
    {
        _errorType = errorType;
        Activity?.SetTag(TelemetryAttributes.ErrorType, errorType);
        Activity?.SetStatus(ActivityStatusCode.Error, description);
    }

    private TagList Tags(string? errorType) =>
        MessagingInstruments.CallTags(_options.Method, _options.ServerAddress, _options.ServerPort, Format, errorType);
}
