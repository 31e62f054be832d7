using System.Globalization;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>
/// A real NetMQ REP peer bound to a port chosen before it starts (a target that was refused
/// until now), answering every request with "World". <see cref="ReplyServer"/> binds a port of
/// its own choosing, which a test that first needs the port closed cannot use.
/// </summary>
internal sealed class ReplyServerAt : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    private ReplyServerAt(int port)
    {
        var bound = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _thread = new Thread(() => Run(port, bound)) { IsBackground = true, Name = "NetMQ REP at a fixed port" };
        _thread.Start();
        bound.Task.Wait(TimeSpan.FromSeconds(20));
    }

    public static ReplyServerAt Start(int port) => new(port);

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    private void Run(int port, TaskCompletionSource bound)
    {
        try
        {
            using var socket = new ResponseSocket();
            socket.Options.Linger = TimeSpan.Zero;
            socket.Bind(string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{port}"));
            bound.SetResult();
            while (!_stop.IsCancellationRequested)
            {
                if (socket.TryReceiveFrameString(TimeSpan.FromMilliseconds(100), out _))
                {
                    socket.SendFrame("World");
                }
            }
        }
        catch (Exception ex)
        {
            bound.TrySetException(ex);
        }
    }
}
