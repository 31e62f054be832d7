using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Testing.Sshd;

/// <summary>Loopback TCP ports for the processes a test or benchmark starts.</summary>
public static class LoopbackPort
{
    /// <summary>
    /// Gets a port that was free a moment ago: bound on 127.0.0.1:0, read back, released. Another
    /// process may take it before the caller binds it, so callers that start a server on it retry.
    /// </summary>
    public static int Free()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
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
