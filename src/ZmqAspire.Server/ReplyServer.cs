using System.Net;
using Microsoft.Extensions.Options;
using NetMQ;
using NetMQ.Sockets;
using ZmqAspire.Messaging;

namespace ZmqAspire.Server;

/// <summary>
/// The seed's REP server: binds <c>tcp://*:Port</c> and answers every request with
/// <c>World from Port</c> after <see cref="ReplyServerOptions.WorkTime"/>. It serves both
/// request forms: a plain one-frame request (pyzmq, the seed's client) gets a plain reply; a
/// ZQA1 envelope gets an enveloped reply, and its span joins the client's trace.
/// </summary>
public sealed partial class ReplyServer(IOptions<ReplyServerOptions> options, ILogger<ReplyServer> logger) : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    // How long a stopping server still tries to deliver replies it has already sent: a reply
    // handed to the socket just before the stop would otherwise be dropped with the socket
    // (linger 0), and its request worked again by another replica. Bounded, so that a client
    // that went away cannot hold the stop.
    private static readonly TimeSpan StopLinger = TimeSpan.FromSeconds(1);
    private readonly ReplyServerOptions _options = options.Value;

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // NetMQ sockets belong to one thread: serve on a dedicated one.
        Task.Factory.StartNew(() => Serve(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Serve(CancellationToken stoppingToken)
    {
        using var socket = new ResponseSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Options.MaxMsgSize = _options.MaxMessageSize;
        socket.Options.SendHighWatermark = _options.HighWatermark;
        socket.Options.ReceiveHighWatermark = _options.HighWatermark;
        if (!string.IsNullOrEmpty(_options.CurveSecretKeyFile))
        {
            // A missing or malformed file stops the server here: it never falls back to plaintext.
            var certificate = CurveCertificateFile.LoadSecret(_options.CurveSecretKeyFile);
            socket.UseCurveServer(certificate);
            LogCurve(certificate.PublicKeyZ85);
        }

        var endpoint = $"tcp://*:{_options.Port}";
        socket.Bind(endpoint);
        var responder = new ZmqResponder(new ZmqResponderOptions
        {
            ServerAddress = _options.Address ?? Dns.GetHostName(),
            ServerPort = _options.Port,
            ReplyCache = _options.ReplyCacheSize > 0 ? new ReplyCache(_options.ReplyCacheSize, _options.ReplyCacheAge) : null,
        });
        var replyText = $"World from {_options.Port}";
        LogListening(endpoint, _options.WorkTime.TotalSeconds);

        var message = new NetMQMessage();
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!socket.TryReceiveMultipartMessage(PollInterval, ref message))
            {
                continue;
            }

            // Disposed after the reply is sent, so the span covers receipt to reply.
            using var request = responder.Accept(message);
            LogReceived(request.BodyText, request.Format, request.Sequence);
            if (request.TryCreateCachedReply(out var cached))
            {
                // A repeat of a request already served (its reply was lost): answer, do not work again.
                LogCacheHit(request.Sequence, request.ClientId);
                Send(socket, request, cached);
                continue;
            }

            // Simulated work; a shutdown during it ends the loop without a reply.
            if (stoppingToken.WaitHandle.WaitOne(_options.WorkTime))
            {
                request.Fail(new OperationCanceledException("server stopping; request abandoned"));
                break;
            }

            if (request.Sequence is { } sequence)
            {
                LogWorkDone(sequence, request.ClientId);
            }
            else
            {
                LogWorkDoneUnnumbered();
            }

            Send(socket, request, request.CreateReply(replyText));
        }

        // Program.cs's NetMQConfig.Cleanup(block: true) waits for this linger before the process exits.
        socket.Options.Linger = StopLinger;
    }

    private void Send(ResponseSocket socket, IncomingRequest request, NetMQMessage reply)
    {
        try
        {
            socket.SendMultipartMessage(reply);
        }
        catch (NetMQException ex)
        {
            request.Fail(ex);
            LogReplyFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "CurveZMQ on: requests and replies are encrypted; clients need the server public key {PublicKey}")]
    private partial void LogCurve(string publicKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "REP server bound to {Endpoint}; simulated work {WorkSeconds} s per request")]
    private partial void LogListening(string endpoint, double workSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Received request: {Request} ({Format}, sequence {Sequence})")]
    private partial void LogReceived(string request, string format, long? sequence);

    // The fault tests count these lines per (client, sequence): more than one is work done twice.
    [LoggerMessage(Level = LogLevel.Information, Message = "Work done for request {Sequence} of client {ClientId}")]
    private partial void LogWorkDone(long sequence, string? clientId);

    // A plain ZeroMQ REQ peer sends one frame, no envelope: nothing to number it by.
    [LoggerMessage(Level = LogLevel.Information, Message = "Work done for an unnumbered request (no envelope: a plain ZeroMQ peer)")]
    private partial void LogWorkDoneUnnumbered();

    [LoggerMessage(Level = LogLevel.Information, Message = "Reply cache hit: request {Sequence} of client {ClientId} answered again without work")]
    private partial void LogCacheHit(long? sequence, string? clientId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not send the reply")]
    private partial void LogReplyFailed(Exception exception);
}
