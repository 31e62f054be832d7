using NetMQ;
using NetMQ.Monitoring;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Counts the TCP connects a NetMQ socket makes (its monitor's Connected events: what NetMQ
/// takes for a successful connect, the event that resets its reconnect backoff).
/// </summary>
internal sealed class ConnectCounter : IDisposable
{
    private readonly NetMQMonitor _monitor;
    private int _connects;

    public ConnectCounter(NetMQSocket socket)
    {
        _monitor = new NetMQMonitor(socket, $"inproc://connect-counter-{Guid.NewGuid():N}", SocketEvents.Connected);
        _monitor.Connected += (_, _) => Interlocked.Increment(ref _connects);
        _monitor.StartAsync();
    }

    /// <summary>Gets the connects so far.</summary>
    public int Connects => Volatile.Read(ref _connects);

    public void Dispose()
    {
        _monitor.Stop();
        _monitor.Dispose();
    }
}
