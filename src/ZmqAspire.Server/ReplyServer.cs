using System.Diagnostics;
using Microsoft.Extensions.Options;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Server;

/// <summary>
/// The seed's REP server: binds <c>tcp://*:Port</c> and answers every request with
/// <c>World from Port</c> after <see cref="ReplyServerOptions.WorkTime"/>.
/// </summary>
public sealed partial class ReplyServer(IOptions<ReplyServerOptions> options, ILogger<ReplyServer> logger) : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);
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
        var endpoint = $"tcp://*:{_options.Port}";
        socket.Bind(endpoint);
        var reply = $"World from {_options.Port}";
        LogListening(endpoint, _options.WorkTime.TotalSeconds);

        var request = new NetMQMessage();
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!socket.TryReceiveMultipartMessage(PollInterval, ref request))
            {
                continue;
            }

            using var activity = ServerTelemetry.Source.StartActivity("REP request", ActivityKind.Server);
            activity?.SetTag("server.port", _options.Port);
            var body = request.Last.ConvertToString();
            LogReceived(body);

            // Simulated work; a shutdown during it ends the loop without a reply.
            if (stoppingToken.WaitHandle.WaitOne(_options.WorkTime))
            {
                break;
            }

            socket.SendFrame(reply);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "REP server bound to {Endpoint}; simulated work {WorkSeconds} s per request")]
    private partial void LogListening(string endpoint, double workSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Received request: {Request}")]
    private partial void LogReceived(string request);
}
