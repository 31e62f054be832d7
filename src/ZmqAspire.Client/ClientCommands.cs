using System.Threading.Channels;
using ZmqAspire.Messaging;

namespace ZmqAspire.Client;

/// <summary>
/// What the dashboard's resource commands ask of the client (through <see cref="CommandEndpoints"/>):
/// send one request now, or drop the SSH session and connect again.
/// </summary>
public sealed class ClientCommands
{
    private readonly Channel<TaskCompletionSource<ZmqReply>> _requests =
        Channel.CreateBounded<TaskCompletionSource<ZmqReply>>(new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropWrite });


    /// <summary>Gets the requests waiting for the request loop.</summary>
    internal ChannelReader<TaskCompletionSource<ZmqReply>> Requests => _requests.Reader;

    /// <summary>Asks the request loop to send one request now and waits for its outcome.</summary>
    /// <param name="cancellationToken">Stops waiting (the request may still be sent).</param>
    /// <returns>The reply.</returns>
    /// <exception cref="InvalidOperationException">Too many requests are already waiting.</exception>
    /// <exception cref="ZmqRequestTimeoutException">The server did not answer.</exception>
    public async Task<ZmqReply> SendOneAsync(CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<ZmqReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_requests.Writer.TryWrite(completion))
        {
            throw new InvalidOperationException("too many requests are already waiting");
        }

        return await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Raised by <see cref="RequestReconnect"/>.</summary>
    internal event Action? ReconnectRequested;

    /// <summary>Asks the client to close its SSH session and connect again (the local port stays).</summary>
    public void RequestReconnect() => ReconnectRequested?.Invoke();
}
