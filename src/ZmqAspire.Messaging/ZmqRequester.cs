using System.Diagnostics;
using System.Text;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Messaging;

/// <summary>
/// A traced REQ client: sends a request, waits for the reply, resends on a new socket after a
/// timeout (ZeroMQ guide's "Lazy Pirate": a REQ socket that lost a reply cannot send again),
/// and reports one CLIENT span and one duration measurement per logical request.
/// </summary>
/// <remarks>
/// Not thread-safe: like its NetMQ socket, use it from one thread. With
/// <see cref="ZmqRequesterOptions.UseEnvelope"/> the span's W3C trace context travels in the
/// request's ZQA1 header, so the server's span becomes its child.
/// </remarks>
public sealed class ZmqRequester : IDisposable
{
    private static readonly TimeSpan ReceiveSlice = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// What a timeout with CURVE on may mean, added to <see cref="ZmqRequestTimeoutException"/>'s
    /// message: a failed CURVE handshake is silent on both sides (no ZAP, no error command from
    /// NetMQ), so it looks exactly like a server that is down.
    /// </summary>
    public const string CurveHint =
        "CURVE is on: a server whose key is not the configured CurveServerKey (or that does not use CURVE) drops the handshake without a word.";
    private readonly ZmqRequesterOptions _options;
    private readonly Uri _endpoint;
    private readonly string _serverAddress;
    private readonly int _serverPort;
    private RequestSocket _socket;

    /// <summary>Creates the requester and connects its socket (ZeroMQ connects in the background).</summary>
    /// <param name="options">Where to connect and how to describe the calls.</param>
    /// <exception cref="ArgumentException">The endpoint is not <c>tcp://host:port</c>.</exception>
    public ZmqRequester(ZmqRequesterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Uri.TryCreate(options.Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme != "tcp" || endpoint.Port <= 0)
        {
            throw new ArgumentException($"Endpoint '{options.Endpoint}' is not tcp://host:port.", nameof(options));
        }

        _options = options;
        _endpoint = endpoint;
        _serverAddress = options.ServerAddress ?? endpoint.IdnHost;
        _serverPort = options.ServerPort ?? endpoint.Port;
        if (options.CurveServerKey is { } curveKey)
        {
            _ = CurveSecurity.ParsePublicKey(curveKey); // a malformed key fails here, not on every socket
        }

        _socket = CreateSocket();
    }

    /// <summary>Sends <paramref name="body"/> as request number <paramref name="sequence"/> and waits for the reply.</summary>
    /// <param name="body">The request body, UTF-8 encoded on the wire.</param>
    /// <param name="sequence">The request's sequence number (sent in the envelope, recorded on the span).</param>
    /// <param name="cancellationToken">Stops waiting; the socket is then replaced, as after a timeout.</param>
    /// <returns>The reply.</returns>
    /// <exception cref="ZmqRequestTimeoutException">No reply after every retry.</exception>
    /// <exception cref="ZmqProtocolException">The reply broke the envelope rules.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ZmqReply Send(string body, long sequence, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        var format = _options.UseEnvelope ? "envelope" : "plain";
        using var activity = MessagingTelemetry.Source.StartActivity(_options.Method, ActivityKind.Client, parentContext: default, SpanTags(sequence, format));
        var started = Stopwatch.GetTimestamp();
        var retries = 0;
        string? errorType = null;
        try
        {
            var request = Encode(body, sequence, activity);
            activity?.SetTag(TelemetryAttributes.RequestSize, MessagingInstruments.Size(request));
            for (var attempt = 0; ; attempt++)
            {
                MessagingInstruments.ClientIo.Add(MessagingInstruments.Size(request), MessagingInstruments.IoTags("transmit"));
                _socket.SendMultipartMessage(request);
                if (TryReceive(cancellationToken) is { } reply)
                {
                    var replyBody = Decode(reply, sequence);
                    activity?.SetTag(TelemetryAttributes.ResponseSize, MessagingInstruments.Size(reply));
                    activity?.SetTag(TelemetryAttributes.RequestRetryCount, retries);
                    return new ZmqReply(replyBody, sequence, retries, Stopwatch.GetElapsedTime(started), activity?.TraceId.ToHexString());
                }

                // The REQ socket now waits for a reply that may never come: replace it (Lazy Pirate).
                ResetSocket();
                cancellationToken.ThrowIfCancellationRequested();
                if (attempt >= _options.MaxRetries)
                {
                    throw new ZmqRequestTimeoutException(sequence, attempt + 1, _options.RequestTimeout, _options.CurveServerKey is null ? null : CurveHint);
                }

                retries++;
                MessagingInstruments.ClientRetries.Add(1, MessagingInstruments.CallTags(_options.Method, _serverAddress, _serverPort, format, errorType: null));
                activity?.AddEvent(new ActivityEvent("zmqaspire.retry", tags: new ActivityTagsCollection { [TelemetryAttributes.RequestRetryCount] = retries }));
            }
        }
        catch (Exception ex)
        {
            errorType = ex.GetType().FullName ?? ex.GetType().Name;
            activity?.SetTag(TelemetryAttributes.RequestRetryCount, retries);
            activity?.SetTag(TelemetryAttributes.ErrorType, errorType);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity?.AddException(ex);
            MessagingInstruments.ClientErrors.Add(1, MessagingInstruments.CallTags(_options.Method, _serverAddress, _serverPort, format, errorType));
            throw;
        }
        finally
        {
            var tags = MessagingInstruments.CallTags(_options.Method, _serverAddress, _serverPort, format, errorType);
            MessagingInstruments.ClientRequests.Add(1, tags);
            MessagingInstruments.ClientDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    /// <summary>Closes the socket; a pending request is dropped (linger 0).</summary>
    public void Dispose() => _socket.Dispose();

    private TagList SpanTags(long sequence, string format)
    {
        // Given at start so that samplers see them.
        var tags = new TagList
        {
            { TelemetryAttributes.RpcSystemName, MessagingTelemetry.RpcSystemName },
            { TelemetryAttributes.RpcMethod, _options.Method },
            { TelemetryAttributes.ServerAddress, _serverAddress },
            { TelemetryAttributes.ServerPort, _serverPort },
            { TelemetryAttributes.NetworkPeerAddress, _endpoint.IdnHost },
            { TelemetryAttributes.NetworkPeerPort, _endpoint.Port },
            { TelemetryAttributes.NetworkTransport, "tcp" },
            { TelemetryAttributes.NetworkProtocolName, "zmtp" },
            { TelemetryAttributes.RequestSequence, sequence },
            { TelemetryAttributes.MessageFormat, format },
        };
        if (_options.ClientId is { } clientId)
        {
            tags.Add(TelemetryAttributes.ClientId, clientId);
        }

        foreach (var attribute in _options.SpanAttributes)
        {
            tags.Add(attribute);
        }

        return tags;
    }

    private NetMQMessage Encode(string body, long sequence, Activity? activity)
    {
        var message = new NetMQMessage();
        if (_options.UseEnvelope)
        {
            var header = new EnvelopeHeader { Sequence = sequence, ClientId = _options.ClientId };
            TraceContext.Inject(activity, header);
            message.Append(header.ToFrame());
        }

        message.Append(Encoding.UTF8.GetBytes(body));
        return message;
    }

    private byte[] Decode(NetMQMessage reply, long sequence)
    {
        MessagingInstruments.ClientIo.Add(MessagingInstruments.Size(reply), MessagingInstruments.IoTags("receive"));
        if (!_options.UseEnvelope || reply.FrameCount == 1)
        {
            // A plain reply to an enveloped request is accepted: the body is all the caller needs.
            return reply.Last.ToByteArray();
        }

        if (reply.FrameCount != 2 || !EnvelopeHeader.TryParse(reply.First.Buffer.AsSpan(0, reply.First.MessageSize), out var header))
        {
            throw new ZmqProtocolException($"Reply to request {sequence} has {reply.FrameCount} frames and no valid ZQA1 header.");
        }

        return header.Sequence == sequence
            ? reply.Last.ToByteArray()
            : throw new ZmqProtocolException($"Reply echoes sequence {header.Sequence?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, expected {sequence}.");
    }

    private NetMQMessage? TryReceive(CancellationToken cancellationToken)
    {
        // Wait in short slices so that cancellation is not held up by a pending request.
        var waited = Stopwatch.StartNew();
        var reply = new NetMQMessage();
        while (waited.Elapsed < _options.RequestTimeout && !cancellationToken.IsCancellationRequested)
        {
            if (_socket.TryReceiveMultipartMessage(ReceiveSlice, ref reply))
            {
                return reply;
            }
        }

        return null;
    }

    private void ResetSocket()
    {
        _socket.Dispose();
        _socket = CreateSocket();
    }

    private RequestSocket CreateSocket()
    {
        var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        if (_options.CurveServerKey is { } curveKey)
        {
            socket.UseCurveClient(curveKey);
        }

        socket.Options.ReconnectIntervalMax = _options.ReconnectIntervalMax;
        // No ZMTP heartbeats: with NetMQ 4.0.4.5 they drop a REQ socket's connection about once a
        // second and lose the reply in flight (NetMQHeartbeatPinTests); liveness comes from the
        // request timeout and the tunnel.

        socket.Connect(_endpoint.GetLeftPart(UriPartial.Authority));
        return socket;
    }
}
