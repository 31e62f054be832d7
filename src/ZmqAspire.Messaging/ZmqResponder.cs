using System.Diagnostics;
using NetMQ;

namespace ZmqAspire.Messaging;

/// <summary>
/// The server half of a traced REQ/REP exchange: reads a request in either form (a plain
/// one-frame request from any ZeroMQ peer, or a ZQA1 <c>[header, body]</c> envelope), starts
/// the SERVER span (a child of the client's span when the envelope carries trace context) and
/// builds the matching reply.
/// </summary>
/// <param name="options">How to describe the requests.</param>
public sealed class ZmqResponder(ZmqResponderOptions options)
{
    private readonly ZmqResponderOptions _options = options ?? throw new ArgumentNullException(nameof(options));

    /// <summary>
    /// Takes a received request. Dispose the result after sending its reply: that ends the
    /// span and records the duration.
    /// </summary>
    /// <param name="request">The request as received (every frame).</param>
    /// <returns>The request, with its body and the means to reply.</returns>
    /// <remarks>
    /// Two frames whose first is a valid ZQA1 header make an envelope; any other message is
    /// plain and its last frame is the body. Two frames whose first frame starts with the magic
    /// but does not parse are served as plain and the span records
    /// <c>error.type=invalid_envelope</c>.
    /// </remarks>
    public IncomingRequest Accept(NetMQMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        EnvelopeHeader? header = null;
        var invalidEnvelope = false;
        var first = request.First.Buffer.AsSpan(0, request.First.MessageSize);
        if (request.FrameCount == 2 && EnvelopeHeader.HasMagic(first))
        {
            invalidEnvelope = !EnvelopeHeader.TryParse(first, out header);
        }

        var parent = default(ActivityContext);
        IEnumerable<KeyValuePair<string, string?>>? baggage = null;
        var hasParent = header is not null && TraceContext.TryExtract(header, out parent, out baggage);
        var format = header is null ? "plain" : "envelope";
        var tags = new TagList
        {
            { TelemetryAttributes.RpcSystemName, MessagingTelemetry.RpcSystemName },
            { TelemetryAttributes.RpcMethod, _options.Method },
            { TelemetryAttributes.ServerAddress, _options.ServerAddress },
            { TelemetryAttributes.ServerPort, _options.ServerPort },
            { TelemetryAttributes.NetworkTransport, "tcp" },
            { TelemetryAttributes.NetworkProtocolName, "zmtp" },
            { TelemetryAttributes.MessageFormat, format },
            { TelemetryAttributes.RequestSize, MessagingInstruments.Size(request) },
        };
        if (header?.Sequence is { } sequence)
        {
            tags.Add(TelemetryAttributes.RequestSequence, sequence);
        }

        if (header?.ClientId is { } clientId)
        {
            tags.Add(TelemetryAttributes.ClientId, clientId);
        }

        // A plain request carries no context: its span starts a trace of its own.
        var activity = MessagingTelemetry.Source.StartActivity(_options.Method, ActivityKind.Server, hasParent ? parent : default, tags);
        foreach (var (key, value) in baggage ?? [])
        {
            activity?.AddBaggage(key, value);
        }

        MessagingInstruments.ServerIo.Add(MessagingInstruments.Size(request), MessagingInstruments.IoTags("receive"));
        var incoming = new IncomingRequest(_options, activity, header, request.Last.ToByteArray(), format);
        incoming.LookUpCachedReply();
        if (invalidEnvelope)
        {
            incoming.MarkError("invalid_envelope", "The first of two frames starts with ZQA1 but is not a valid header; served as plain.");
        }

        return incoming;
    }
}
