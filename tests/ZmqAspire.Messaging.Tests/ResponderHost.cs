using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Messaging.Tests;

/// <summary>A REP socket on 127.0.0.1 (port picked by the OS) serving through <see cref="ZmqResponder"/> on its own thread.</summary>
internal sealed class ResponderHost : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _bound = new();

    private readonly ReplyCache? _cache;
    private readonly NetMQCertificate? _curve;
    private int _workDone;

    /// <param name="reply">The reply text; with <paramref name="echo"/>, followed by <c>:</c> and the request body.</param>
    /// <param name="work">Simulated work per request (not for repeats answered from <paramref name="cache"/>).</param>
    /// <param name="silent">Never answer.</param>
    /// <param name="cache">The reply cache, as the server uses it.</param>
    /// <param name="echo">Put the request body in the reply, to tell replies apart.</param>
    /// <param name="curve">The server's key pair: the socket is then a CURVE server (RFC 26).</param>
    public ResponderHost(string reply = "World", TimeSpan? work = null, bool silent = false, ReplyCache? cache = null, bool echo = false, NetMQCertificate? curve = null)
    {
        _cache = cache;
        _curve = curve;
        _thread = new Thread(() => Serve(reply, work ?? TimeSpan.Zero, silent, echo)) { IsBackground = true };
        _thread.Start();
        if (!_bound.Wait(TimeSpan.FromSeconds(10)))
        {
            throw new TimeoutException("REP socket did not bind");
        }
    }

    public int Port { get; private set; }

    public string Endpoint => $"tcp://127.0.0.1:{Port}";

    /// <summary>Gets the bodies received, in order.</summary>
    public List<string> Received { get; } = [];

    /// <summary>Gets how many requests were worked on (repeats answered from the cache are not).</summary>
    public int WorkDone => Volatile.Read(ref _workDone);

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
        _bound.Dispose();
    }

    private void Serve(string replyText, TimeSpan work, bool silent, bool echo)
    {
        using var socket = new ResponseSocket();
        socket.Options.Linger = TimeSpan.Zero;
        if (_curve is not null)
        {
            socket.UseCurveServer(_curve);
        }

        Port = socket.BindRandomPort("tcp://127.0.0.1");
        var responder = new ZmqResponder(new ZmqResponderOptions { ServerAddress = "test-server", ServerPort = Port, ReplyCache = _cache });
        _bound.Set();
        var message = new NetMQMessage();
        while (!_stop.IsCancellationRequested)
        {
            if (!socket.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(50), ref message))
            {
                continue;
            }

            using var request = responder.Accept(message);
            lock (Received)
            {
                Received.Add(request.BodyText);
            }

            if (silent)
            {
                // Never answers: the REP socket is stuck, as a hung server would be.
                _stop.Token.WaitHandle.WaitOne();
                return;
            }

            if (request.TryCreateCachedReply(out var cached))
            {
                socket.SendMultipartMessage(cached);
                continue;
            }

            Thread.Sleep(work);
            Interlocked.Increment(ref _workDone);
            socket.SendMultipartMessage(request.CreateReply(echo ? $"{replyText}:{request.BodyText}" : replyText));
        }
    }
}
