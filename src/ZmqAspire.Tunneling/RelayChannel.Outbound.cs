using System.Buffers;
using System.Net.Sockets;
using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Data from the local socket to the server: read on a thread of its own or asynchronously, and
/// sent within the server's window (RFC 4254 section 5.2), waiting for its adjustments without a lock held.
/// </summary>
internal sealed partial class RelayChannel
{
    /// <summary>Bytes read from the local socket at once; sent as messages of the server's maximum packet size.</summary>
    private const int ReadSize = 64 * 1024;

    internal void OnWindowAdjust(uint bytesToAdd)
    {
        TaskCompletionSource opened;
        lock (_gate)
        {
            _remoteWindow = (uint)Math.Min(uint.MaxValue, (ulong)_remoteWindow + bytesToAdd);
            opened = _windowOpened;
        }

        opened.TrySetResult();
    }

    private void ReadLoop()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
        var drained = false;
        try
        {
            while (true)
            {
                int read;
                try
                {
                    // The socket is non-blocking (for the receive thread's sends): take what is
                    // there, and when nothing is, wait in poll(), which wakes this thread directly.
                    // A read that did not fill the buffer took everything there was: wait first
                    // rather than read again, since the next read finds nothing in about 94% of
                    // the cases, even in a 64 B stream (the profile in docs/benchmarks.md).
                    if (drained)
                    {
                        _socket.Poll(-1, SelectMode.SelectRead);
                    }

                    read = _socket.Receive(buffer, 0, buffer.Length, SocketFlags.None, out var error);
                    if (error == SocketError.WouldBlock)
                    {
                        RelayCounters.Add(RelayCounter.EmptyReads);
                        drained = true;
                        continue;
                    }

                    if (error != SocketError.Success)
                    {
                        break; // reset: the connection ends, which is no failure
                    }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    break;
                }

                if (read == 0)
                {
                    EndOfLocalStream();
                    return;
                }

                RelayCounters.Add(RelayCounter.LocalReads);
                drained = read < buffer.Length;

                // Completes synchronously unless the server's window is closed: then this thread waits.
                if (!SendDataAsync(buffer, read).GetAwaiter().GetResult())
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        LocalReadEnded();
    }

    private async Task ReadLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await _socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // A reset or our own close: the connection ends, which is no failure.
                    break;
                }

                if (read == 0)
                {
                    EndOfLocalStream();
                    return;
                }

                if (!await SendDataAsync(buffer, read).ConfigureAwait(false))
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        LocalReadEnded();
    }

    /// <summary>The local client closed its sending side: SSH_MSG_CHANNEL_EOF, the other direction stays open.</summary>
    private void EndOfLocalStream()
    {
        SendEofOnce();
        lock (_gate)
        {
            _localReadDone = true;
        }

        CloseIfDone();
    }

    /// <summary>The local connection was reset or closed (by either side): the channel closes.</summary>
    private void LocalReadEnded()
    {
        lock (_gate)
        {
            _localReadDone = true;
        }

        Close(sendClose: true);
    }

    /// <summary>Sends local data within the server's window; false when the channel is closing.</summary>
    private async Task<bool> SendDataAsync(byte[] buffer, int count)
    {
        var offset = 0;
        while (offset < count)
        {
            Task waitForWindow;
            int size;
            uint remoteId;
            lock (_gate)
            {
                if (_closeSent || _closeReceived || _eofSent)
                {
                    return false;
                }

                size = (int)Math.Min(Math.Min(_remoteWindow, _remoteMaxPacket), (uint)(count - offset));
                if (size == 0)
                {
                    if (_windowOpened.Task.IsCompleted)
                    {
                        _windowOpened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    }

                    waitForWindow = _windowOpened.Task;
                }
                else
                {
                    _remoteWindow -= (uint)size;
                    waitForWindow = Task.CompletedTask;
                }

                remoteId = _remoteId;
            }

            if (size == 0)
            {
                await waitForWindow.ConfigureAwait(false);
                continue;
            }

            if (!SendUnlessClosed(new ChannelDataMessage(remoteId, buffer, offset, size)))
            {
                return false;
            }

            TunnelMeter.Transmitted(size);
            RelayCounters.Add(RelayCounter.DataSent);
            RelayCounters.Add(RelayCounter.BytesSent, size);

            offset += size;
        }

        return true;
    }

    private void SendEofOnce()
    {
        uint remoteId;
        lock (_gate)
        {
            if (_eofSent || _closeSent || !_open)
            {
                return;
            }

            _eofSent = true;
            remoteId = _remoteId;
        }

        SendUnlessClosed(new ChannelEofMessage(remoteId));
    }
}
