@{
    RootModule           = 'VirtualDevices.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    CompatiblePSEditions = @('Core')
    GUID                 = 'b55de8d1-174d-44c2-aee3-663edb2088cf'
    Author               = 'VirtualDevices contributors'
    CompanyName          = 'VirtualDevices'
    Copyright            = '(c) VirtualDevices contributors. All rights reserved.'
    Description          = 'Scriptable virtual devices for Linux and macOS: block devices (disk images, RAM disks, NBD), xenstore and Xen devices, and virtual network devices, as pipeline objects.'
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('VirtualDevices.format.ps1xml')
    FunctionsToExport    = @()
    CmdletsToExport      = @(
        'Close-BlockDevice'
        'Close-NetworkDevice'
        'Connect-NbdDevice'
        'Connect-NetworkDevice'
        'Connect-Xenstore'
        'Disconnect-NbdDevice'
        'Disconnect-NetworkDevice'
        'Disconnect-Xenstore'
        'Export-NetworkCapture'
        'Get-BlockDevice'
        'Get-BlockDeviceAllocation'
        'Get-BlockDeviceInfo'
        'Get-DeviceStats'
        'Get-NbdExport'
        'Get-NbdServer'
        'Get-NetworkCapture'
        'Get-NetworkSwitch'
        'Get-XenstoreItem'
        'Get-XenstorePermission'
        'Get-XenstoreServer'
        'Import-NetworkCapture'
        'Invoke-XenstoreTransaction'
        'New-BlockDevice'
        'New-NetworkDevice'
        'New-NetworkFrame'
        'New-XenstoreItem'
        'Open-BlockDevice'
        'Read-BlockDevice'
        'Receive-NetworkFrame'
        'Remove-XenstoreItem'
        'Reset-DeviceStats'
        'Send-NetworkFrame'
        'Set-XenstoreItem'
        'Set-XenstorePermission'
        'Start-NbdServer'
        'Start-NetworkCapture'
        'Start-VmnetInterface'
        'Start-XenstoreServer'
        'Stop-NbdServer'
        'Stop-NetworkCapture'
        'Stop-VmnetInterface'
        'Stop-XenstoreServer'
        'Watch-XenstorePath'
        'Write-BlockDevice'
    )
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Linux', 'MacOS', 'BlockDevice', 'NBD', 'Xen', 'Xenstore', 'Network', 'TAP', 'vmnet', 'MirageOS')
            ReleaseNotes = 'First release: the device model, file and memory block devices, NBD (client and server), xenstore (client, embedded server, Xs: drive), and their cmdlets.'
        }
    }
}
