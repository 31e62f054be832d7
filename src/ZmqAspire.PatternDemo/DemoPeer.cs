using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Options;
using NetMQ;
using NetMQ.Sockets;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

namespace ZmqAspire.PatternDemo;

/// <summary>
/// One demo peer: a publisher or puller that binds <c>tcp://*:Port</c> (behind the bastion), or
/// a subscriber or pusher that connects, through the <see cref="SshTunnel"/> of
/// <c>AddSshTunnel("server")</c> when there is one (its local port stays across SSH reconnects, so
/// the socket connects once and NetMQ reconnects it). Each message is
/// <c>[topic,] ZQA1 header, body</c>: the header carries the sequence number and the producer
/// span's trace context (docs/wire-format.md).
/// </summary>
public sealed partial class DemoPeer(
    IOptions<DemoOptions> options,
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    ILogger<DemoPeer> logger) : BackgroundService
{
    private static readonly TimeSpan ReceiveSlice = TimeSpan.FromMilliseconds(200);
    private readonly DemoOptions _options = options.Value;
    private long _nextSequence;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.Mode is DemoMode.Publisher or DemoMode.Puller)
        {
            await OnOwnThread(() => Run($"tcp://*:{_options.Port}", bind: true, tunnelTarget: null, stoppingToken));
            return;
        }

        if (services.GetService<SshTunnel>() is not { } tunnel)
        {
            var endpoint = _options.Connect ?? throw new InvalidOperationException("Set Demo:Connect (tcp://host:port) or ConnectionStrings:server.");
            await OnOwnThread(() => Run(endpoint, bind: false, tunnelTarget: null, stoppingToken));
            return;
        }

        // The bastion may still be starting: the tunnel logs in with backoff until it answers.
        try
        {
            await tunnel.WaitUntilUpAsync(Timeout.InfiniteTimeSpan, stoppingToken);
        }
        catch (SshTunnelException)
        {
            // Given up (host key, credential): the tunnel logged why; nothing to connect to.
            return;
        }

        var remote = tunnel.RemoteEndpoints[0];
        await OnOwnThread(() => Run(tunnel.LocalEndpoint.ToString(), bind: false, $"{remote.Host}:{remote.Port}", stoppingToken));
    }

    // NetMQ sockets belong to one thread.
    private static Task OnOwnThread(Action run) =>
        Task.Factory.StartNew(run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Runs the mode's socket on <paramref name="endpoint"/> until stopped.</summary>
    private void Run(string endpoint, bool bind, string? tunnelTarget, CancellationToken cancellationToken)
    {
        using NetMQSocket socket = _options.Mode switch
        {
            DemoMode.Publisher => new PublisherSocket(),
            DemoMode.Subscriber => new SubscriberSocket(),
            DemoMode.Pusher => new PushSocket(),
            _ => new PullSocket(),
        };
        // A producer that stops after Count messages waits up to a second for them to leave.
        socket.Options.Linger = TimeSpan.FromSeconds(1);
        if (bind)
        {
            socket.Bind(endpoint);
        }
        else
        {
            socket.Connect(endpoint);
        }

        LogStarted(_options.Mode.ToString(), bind ? "bound to" : "connected to", endpoint);
        var destination = _options.Mode is DemoMode.Publisher or DemoMode.Subscriber ? _options.Topic : _options.Queue;
        var socketType = _options.Mode switch
        {
            DemoMode.Publisher => "PUB",
            DemoMode.Subscriber => "SUB",
            DemoMode.Pusher => "PUSH",
            _ => "PULL",
        };
        switch (socket)
        {
            case SubscriberSocket sub:
                sub.Subscribe(_options.Topic);
                Consume(sub, hasTopic: true, destination, socketType, tunnelTarget, cancellationToken);
                break;
            case PullSocket pull:
                Consume(pull, hasTopic: false, destination, socketType, tunnelTarget, cancellationToken);
                break;
            default:
                Produce(socket, socket is PublisherSocket ? _options.Topic : null, destination, socketType, tunnelTarget, cancellationToken);
                break;
        }
    }

    private void Produce(NetMQSocket socket, string? topic, string destination, string socketType, string? tunnelTarget, CancellationToken cancellationToken)
    {
        var word = topic is null ? "job" : "tick";
        while (!cancellationToken.IsCancellationRequested)
        {
            var sequence = _nextSequence;
            if (_options.Count > 0 && sequence >= _options.Count)
            {
                LogDone(_options.Count);
                lifetime.StopApplication();
                return;
            }

            var body = Encoding.UTF8.GetBytes($"{word} {sequence}");
            var tags = SpanTags("send", destination, socketType, tunnelTarget, sequence, body.Length);
            using (var activity = DemoTelemetry.Source.StartActivity($"send {destination}", ActivityKind.Producer, parentContext: default, tags))
            {
                var header = new EnvelopeHeader { Sequence = sequence, ClientId = Environment.MachineName };
                TraceContext.Inject(activity, header);
                var message = new NetMQMessage();
                if (topic is not null)
                {
                    message.Append(topic);
                }

                message.Append(header.ToFrame());
                message.Append(body);
                socket.SendMultipartMessage(message);
            }

            _nextSequence++;
            DemoTelemetry.Sent.Add(1, DemoTelemetry.Tags("send", destination));
            LogSent(word, sequence, destination);
            cancellationToken.WaitHandle.WaitOne(_options.Interval);
        }
    }

    private void Consume(NetMQSocket socket, bool hasTopic, string destination, string socketType, string? tunnelTarget, CancellationToken cancellationToken)
    {
        var message = new NetMQMessage();
        while (!cancellationToken.IsCancellationRequested)
        {
            if (!socket.TryReceiveMultipartMessage(ReceiveSlice, ref message))
            {
                continue;
            }

            var started = Stopwatch.GetTimestamp();
            var frames = message.Skip(hasTopic ? 1 : 0).ToList();
            EnvelopeHeader? header = null;
            var parent = default(ActivityContext);
            if (frames.Count == 2 && EnvelopeHeader.TryParse(frames[0].Buffer.AsSpan(0, frames[0].MessageSize), out header))
            {
                TraceContext.TryExtract(header, out parent, out _);
            }

            var body = frames[^1].ConvertToString(Encoding.UTF8);
            var tags = SpanTags("process", destination, socketType, tunnelTarget, header?.Sequence, frames[^1].MessageSize);
            using (DemoTelemetry.Source.StartActivity($"process {destination}", ActivityKind.Consumer, parent, tags))
            {
                LogReceived(body, destination, header?.Sequence);
            }

            var measurement = DemoTelemetry.Tags("process", destination);
            DemoTelemetry.Consumed.Add(1, measurement);
            DemoTelemetry.ProcessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, measurement);
        }
    }

    private static TagList SpanTags(string operation, string destination, string socketType, string? tunnelTarget, long? sequence, int bodySize)
    {
        var tags = new TagList
        {
            { DemoTelemetry.MessagingSystem, DemoTelemetry.System },
            { DemoTelemetry.OperationType, operation },
            { DemoTelemetry.OperationName, operation },
            { DemoTelemetry.DestinationName, destination },
            { DemoTelemetry.BodySize, bodySize },
            { DemoTelemetry.SocketType, socketType },
        };
        if (sequence is { } s)
        {
            tags.Add(DemoTelemetry.MessageId, s.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (tunnelTarget is not null)
        {
            tags.Add(TelemetryAttributes.TunnelTarget, tunnelTarget);
        }

        return tags;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Mode} {How} {Endpoint}")]
    private partial void LogStarted(string mode, string how, string endpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sent {Word} {Sequence} to {Destination}")]
    private partial void LogSent(string word, long sequence, string destination);

    [LoggerMessage(Level = LogLevel.Information, Message = "Received {Body} from {Destination} (sequence {Sequence})")]
    private partial void LogReceived(string body, string destination, long? sequence);

    [LoggerMessage(Level = LogLevel.Information, Message = "Done: sent {Count} messages")]
    private partial void LogDone(int count);
}
