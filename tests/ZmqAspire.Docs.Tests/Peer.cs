using System.Globalization;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Docs.Tests;

/// <summary>
/// A real NetMQ socket bound on 127.0.0.1 that stands in for a host behind the docs' bastion
/// (<c>peer=server:5556/rep</c> in a marker), served on its own thread until disposed:
/// <list type="bullet">
/// <item><c>rep</c>: answers every request with <c>World from PORT</c> (PORT as written in the sample), like our server;</item>
/// <item><c>pub</c>: publishes <c>[sensors.temperature, 21.5]</c> every 20 ms (a late subscriber still gets one);</item>
/// <item><c>pull</c>: takes whatever is pushed;</item>
/// <item><c>pair</c>: answers every message with <c>pong</c>;</item>
/// <item><c>router</c>: answers every <c>[empty, body]</c> request with <c>[empty, reply to body]</c>.</item>
/// </list>
/// </summary>
public sealed class Peer : IDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly NetMQSocket _socket;

    public Peer(PeerSpec spec)
    {
        _socket = spec.Kind switch
        {
            "rep" => new ResponseSocket(),
            "pub" => new PublisherSocket(),
            "pull" => new PullSocket(),
            "pair" => new PairSocket(),
            "router" => new RouterSocket(),
            _ => throw new ArgumentException($"unknown peer kind '{spec.Kind}'", nameof(spec)),
        };
        _socket.Options.Linger = TimeSpan.Zero;
        Port = _socket.BindRandomPort("tcp://127.0.0.1");
        var greeting = "World from " + spec.Address[(spec.Address.LastIndexOf(':') + 1)..];
        _thread = new Thread(() => Serve(spec.Kind, greeting)) { IsBackground = true, Name = $"peer {spec.Address}" };
        _thread.Start();
    }

    /// <summary>Gets the loopback port the peer is bound to.</summary>
    public int Port { get; }

    /// <summary>Gets the address that replaces the sample's <c>host:port</c>.</summary>
    public string Address => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(5));
        _socket.Dispose();
        _stop.Dispose();
    }

    private void Serve(string kind, string greeting)
    {
        var message = new NetMQMessage();
        while (!_stop.IsCancellationRequested)
        {
            if (kind == "pub")
            {
                _socket.SendMoreFrame("sensors.temperature").SendFrame("21.5");
                Thread.Sleep(Poll);
                continue;
            }

            if (!_socket.TryReceiveMultipartMessage(Poll, ref message))
            {
                continue;
            }

            switch (kind)
            {
                case "rep":
                    _socket.SendFrame(greeting);
                    break;
                case "pair":
                    _socket.SendFrame("pong");
                    break;
                case "router":
                    var body = message.Last.ConvertToString();
                    _socket.SendMoreFrame(message.First.ToByteArray()).SendMoreFrameEmpty().SendFrame("reply to " + body);
                    break;
            }
        }
    }
}
