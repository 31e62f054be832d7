using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Testing.Sshd;

/// <summary>Loopback ports for peers started by the tests.</summary>
public static class TestPorts
{
    /// <summary>A port free on 127.0.0.1 now (for a peer that insists on choosing its own, like <c>ssh -L</c>).</summary>
    public static int Free()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Waits until something accepts connections on 127.0.0.1:<paramref name="port"/>.</summary>
    /// <exception cref="TimeoutException">Nothing listened in time; the message carries <paramref name="describe"/>'s text.</exception>
    public static async Task WaitListeningAsync(int port, TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        throw new TimeoutException($"nothing listened on 127.0.0.1:{port} within {timeout.TotalSeconds} s:\n{describe()}");
    }
}
