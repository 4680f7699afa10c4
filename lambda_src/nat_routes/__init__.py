"""Lambda `tradai-update-nat-routes`: point private default routes at a newly launched NAT instance."""
