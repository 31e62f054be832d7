using System.Globalization;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Testing.Sshd;

/// <summary>
/// A real NetMQ REP peer on its own thread, bound to <c>tcp://127.0.0.1:*</c>. It answers the
/// single frame "Hello" with "World from PORT" and echoes any other message, prefixed by a frame
/// "echo from PORT".
/// </summary>
public sealed class ReplyServer : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<int> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;
    private Exception? _failure;

    private ReplyServer()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "NetMQ REP test peer" };
        _thread.Start();
        if (!_ready.Task.Wait(TimeSpan.FromSeconds(20)))
        {
            throw new TimeoutException("The REP socket did not bind within 20 s.");
        }

        Port = _ready.Task.GetAwaiter().GetResult();
    }

    /// <summary>Gets the port the REP socket is bound to, read back from its last endpoint.</summary>
    public int Port { get; }

    /// <summary>Gets the endpoint a connecting socket would use: <c>tcp://127.0.0.1:Port</c>.</summary>
    public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{Port}");

    public string ExpectedGreeting => string.Create(CultureInfo.InvariantCulture, $"World from {Port}");

    public string EchoPrefix => string.Create(CultureInfo.InvariantCulture, $"echo from {Port}");

    /// <summary>Gets what went wrong on the REP thread, if anything (for assertion messages).</summary>
    public string Failure => _failure?.ToString() ?? "none";

    public static ReplyServer Start() => new();

    private void Run()
    {
        try
        {
            using var socket = new ResponseSocket();
            socket.Options.Linger = TimeSpan.Zero;
            socket.Bind("tcp://127.0.0.1:*");
            var last = socket.Options.LastEndpoint ?? throw new InvalidOperationException("The REP socket has no last endpoint.");
            var port = int.Parse(last[(last.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
            _ready.SetResult(port);

            while (!_stop.IsCancellationRequested)
            {
                var request = new NetMQMessage();
                if (!socket.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(100), ref request))
                {
                    continue;
                }

                var reply = new NetMQMessage();
                if (request.FrameCount == 1 && request[0].ConvertToString() == "Hello")
                {
                    reply.Append(string.Create(CultureInfo.InvariantCulture, $"World from {port}"));
                }
                else
                {
                    reply.Append(string.Create(CultureInfo.InvariantCulture, $"echo from {port}"));
                    foreach (var frame in request)
                    {
                        reply.Append(frame.ToByteArray());
                    }
                }

                socket.SendMultipartMessage(reply);
            }
        }
        catch (Exception ex)
        {
            _failure = ex;
            _ready.TrySetException(ex);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
